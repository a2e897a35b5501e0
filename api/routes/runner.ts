import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import { and, desc, eq, ne, sql } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { checkpoints, files, jobEvents, jobs, models, runs } from "../../db/schema/index.ts";
import { type CompositeRef, openComposite } from "../../storage/composite.ts";
import { addJobEvent } from "../../workers/job-events.ts";
import { metricsEventData, metricsMessage, tokensOf } from "../../workers/runner-metrics.ts";
import type { AppDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { transition } from "../jobs/lifecycle.ts";
import { sha256Hex } from "../lib/hash.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";
import { baseOf, findModel, resolveModel } from "../models/registry.ts";
import { zodToApiError } from "../router.ts";
import {
  CheckpointRegisterRequest,
  CheckpointRegisterResponse,
  CheckpointUploadsRequest,
  CheckpointUploadsResponse,
  type RunnerEventIn,
  RunnerEventsRequest,
  RunnerEventsResponse,
  type RunnerFile,
  RunnerHeartbeatRequest,
  RunnerHeartbeatResponse,
  RunnerSpec,
  RunnerStatusRequest,
  RunnerStatusResponse,
  type RunnerStepMetrics,
} from "../schemas/runner.ts";

/**
 * The runner protocol (control plane ⇄ runner), mounted at `/runner` outside the API-key middleware. A runner
 * holds no database or bucket credentials: only its run's bearer token (`rft-run-…`, stored as a sha256 in
 * `runs.tokenHash`), which reaches only its own job. Files move through presigned URLs (S3) or through URLs
 * signed for the run and served here (`/v1/objects/*`, local store), checked against the job's scope on use.
 */
type RunRow = typeof runs.$inferSelect;
type JobRow = typeof jobs.$inferSelect;
type RunnerEnv = { Variables: { requestId: string; run: RunRow; job: JobRow } };

export interface RunnerRouteOptions {
  /** The URL runners reach this API at (signed object URLs); default: the origin each request came in on. */
  publicUrl?: string;
  /** How often a runner should heartbeat; tell it in the spec. */
  heartbeatIntervalMs?: number;
  /** Lifetime of download and upload URLs. */
  urlTtlSeconds?: number;
}

const nowS = () => Math.floor(Date.now() / 1000);
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export const checkpointPrefix = (projectId: string, jobId: string, step: number) =>
  `checkpoints/${projectId}/${jobId}/step-${step}`;

/** `ft:<base>:<project>:<suffix>:<jobid-tail>`, OpenAI's `ft:{base}:{org}:{suffix}:{id}`. */
export function fineTunedName(job: Pick<JobRow, "id" | "model" | "projectId" | "suffix">): string {
  return `ft:${baseOf(job.model)}:${job.projectId}:${job.suffix ?? ""}:${job.id.slice(-8)}`;
}

/** A heartbeat may carry the runner's buffered events and metrics: one request instead of two. */
const HeartbeatRequest = RunnerHeartbeatRequest.extend({
  events: RunnerEventsRequest.shape.events,
  metrics: RunnerEventsRequest.shape.metrics,
}).openapi("RunnerHeartbeatWithEventsRequest");

const runEnded = () =>
  new ApiError(409, "This run has ended; a newer run (or none) owns the job now.", { code: "run_ended" });

export function runnerRoutes(deps: AppDeps, options: RunnerRouteOptions = {}) {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 10_000;
  const ttl = options.urlTtlSeconds ?? 6 * 3600;
  const app = new OpenAPIHono<RunnerEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw zodToApiError(
          (result.error as unknown as { issues: [] }).issues,
          result.target === "json" ? "request body" : result.target,
        );
      }
    },
  });

  const baseUrl = (requestUrl: string) => {
    if (options.publicUrl) return `${options.publicUrl.replace(/\/+$/, "")}/runner`;
    const url = new URL(requestUrl);
    const at = url.pathname.indexOf("/v1/");
    return url.origin + (at >= 0 ? url.pathname.slice(0, at) : "");
  };

  // ---- auth: the run's token → its run and job ------------------------------------------------------------------
  const requireRunToken = createMiddleware<RunnerEnv>(async (c, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match?.[1])
      throw new ApiError(401, "Missing run token (Authorization: Bearer rft-run-…).", { code: "missing_run_token" });
    const found = await findRun(deps, await sha256Hex(match[1]));
    if (!found) throw new ApiError(401, "Invalid run token.", { code: "invalid_run_token" });
    c.set("run", found.run);
    c.set("job", found.job);
    await next();
  });

  // ---- object URLs for the local store ------------------------------------------------------------------------------
  async function downloadUrl(base: string, run: RunRow, key: string, exp: number): Promise<string> {
    const presigned = await deps.store.presign(key, "GET", ttl);
    return presigned ?? (await signedObjectUrl(base, run, key, "GET", exp));
  }

  async function fileFor(
    base: string,
    run: RunRow,
    projectId: string,
    fileId: string,
    exp: number,
  ): Promise<RunnerFile> {
    const row = (
      await deps.db
        .select()
        .from(files)
        .where(and(eq(files.id, fileId), eq(files.projectId, projectId)))
        .limit(1)
    )[0];
    if (!row || row.deletedAt !== null) {
      throw new ApiError(409, `The job's file ${fileId} no longer exists.`, { code: "file_missing" });
    }
    return {
      name: row.filename,
      key: row.objectKey,
      bytes: row.bytes,
      sha256: row.sha256,
      // A file kept as several part objects has no one object to presign: the runner reads it through this API.
      url: row.parts?.length
        ? await signedObjectUrl(base, run, row.objectKey, "GET", exp)
        : await downloadUrl(base, run, row.objectKey, exp),
    };
  }

  app.use("/v1/*", requireRunToken);

  // ---- GET /v1/spec ----------------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/spec",
      tags: ["runner"],
      summary: "The run's spec: job, hyperparameters, grader, file URLs, resume point. The first fetch starts the job.",
      responses: json(RunnerSpec, "The spec"),
    }),
    async (c) => {
      const run = c.get("run");
      let job = c.get("job");
      if (run.status === "ended") throw runEnded();
      if (job.status === "queued") {
        const moved = await transition(
          deps.db,
          job.id,
          "running",
          {
            message: `Runner started (attempt ${run.attempt} of ${job.maxAttempts})`,
            data: { run_id: run.id, attempt: run.attempt },
          },
          { from: ["queued"] },
        );
        job = (await findRunJob(deps, run.jobId)) ?? job;
        if (!moved.ok && job.status !== "running") throw jobNotRunnable(job);
      } else if (job.status === "paused" && run.status === "starting") {
        // Paused between launch and start: this run ends before it takes a machine's time; resume launches anew.
        const ended = await deps.db
          .update(runs)
          .set({ status: "ended", endedAt: nowS() })
          .where(and(eq(runs.id, run.id), eq(runs.status, "starting")))
          .returning({ id: runs.id });
        if (ended.length) {
          await addJobEvent(deps.db, job.id, {
            level: "info",
            message: "Runner not started: the job was paused before it began; resuming launches a new one",
            data: { run_id: run.id, attempt: run.attempt },
          });
        }
        throw jobNotRunnable(job);
      } else if (job.status !== "running" && job.status !== "paused") {
        throw jobNotRunnable(job);
      }

      const exp = nowS() + ttl;
      const base = baseUrl(c.req.url);
      const last = await latestCheckpoint(deps, job.id);
      const model = await resolveModel(deps, job.projectId, job.model);
      if (!model)
        throw new ApiError(409, `The model '${job.model}' has no files in the object store.`, {
          code: "model_missing",
        });
      const method = job.method as {
        type: "reinforcement" | "supervised";
        reinforcement?: { grader?: Record<string, unknown> };
      };

      if (run.status === "starting") {
        // A new run redoes every step after the resume point: drop those steps' old metrics so each step shows once.
        const resumeStep = last?.stepNumber ?? 0;
        await deps.db.batch([
          deps.db
            .update(runs)
            .set({ status: "running", heartbeatAt: nowS() })
            .where(and(eq(runs.id, run.id), eq(runs.status, "starting"))),
          // Query builders only in a batch: drizzle's D1 batch cannot bind a raw db.run(sql) (drizzle-orm#2277).
          deps.db
            .delete(jobEvents)
            .where(
              and(
                eq(jobEvents.jobId, job.id),
                eq(jobEvents.type, "metrics"),
                sql`json_extract(${jobEvents.data}, '$.step') > ${resumeStep}`,
              ),
            ),
          deps.db.update(jobs).set({ currentStep: resumeStep }).where(eq(jobs.id, job.id)),
        ]);
      }

      const spec: RunnerSpec = {
        object: "runner.spec",
        job: {
          id: job.id,
          project_id: job.projectId,
          model: job.model,
          suffix: job.suffix,
          seed: job.seed,
          status: job.status,
          fine_tuned_model: fineTunedName(job),
        },
        run: { id: run.id, attempt: run.attempt, max_attempts: job.maxAttempts },
        method: { type: method.type, hyperparameters: job.resolved },
        grader: method.reinforcement?.grader ?? null,
        training_file: await fileFor(base, run, job.projectId, job.trainingFile, exp),
        validation_file: job.validationFile ? await fileFor(base, run, job.projectId, job.validationFile, exp) : null,
        model: {
          id: model.id,
          base: model.base,
          files: await Promise.all(
            model.files.map(async (f) => ({ ...f, sha256: null, url: await downloadUrl(base, run, f.key, exp) })),
          ),
          hub: model.hub,
        },
        resume: last
          ? {
              step: last.stepNumber,
              checkpoint_id: last.id,
              files: await Promise.all(
                last.files.map(async (f) => {
                  const key = `${last.objectPrefix}/${f.name}`;
                  return {
                    name: f.name,
                    key,
                    bytes: f.bytes,
                    sha256: f.sha256 ?? null,
                    url: await downloadUrl(base, run, key, exp),
                  };
                }),
              ),
            }
          : null,
        total_steps: job.totalSteps,
        heartbeat_interval_ms: heartbeatIntervalMs,
        urls_expire_at: exp,
      };
      return c.json(spec, 200);
    },
  );

  // ---- POST /v1/events ---------------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/events",
      tags: ["runner"],
      summary: "A batch of events and per-step metrics",
      request: body(RunnerEventsRequest),
      responses: json(RunnerEventsResponse, "Stored"),
    }),
    async (c) => {
      const run = c.get("run");
      const job = c.get("job");
      if (run.status === "ended") throw runEnded();
      const { events, metrics } = c.req.valid("json");
      const statements = eventStatements(deps, job, events, metrics);
      if (statements.length) await deps.db.batch(statements as never);
      return c.json({ accepted: { events: events.length, metrics: metrics.length } }, 200);
    },
  );

  // ---- POST /v1/heartbeat -----------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/heartbeat",
      tags: ["runner"],
      summary: "Proof of life; the answer says continue, pause or cancel",
      request: body(HeartbeatRequest),
      responses: json(RunnerHeartbeatResponse, "What to do next"),
    }),
    async (c) => {
      const run = c.get("run");
      let job = c.get("job");
      if (run.status === "ended") return c.json({ action: "cancel" as const, job_status: job.status }, 200);
      const { events, metrics } = c.req.valid("json");
      await deps.db.batch([
        ...eventStatements(deps, job, events, metrics),
        deps.db
          .update(runs)
          .set({ heartbeatAt: nowS(), status: "running" })
          .where(and(eq(runs.id, run.id), ne(runs.status, "ended"))),
      ] as never);
      if (job.status === "queued") {
        // Resumed while this runner waited in place (paused): it simply goes on; the dispatch that the resume sent
        // finds this live run and launches nothing.
        await transition(
          deps.db,
          job.id,
          "running",
          { message: "Training resumed", data: { run_id: run.id } },
          { from: ["queued"] },
        );
        job = (await findRunJob(deps, job.id)) ?? job;
      }
      const action = job.status === "running" ? "continue" : job.status === "paused" ? "pause" : "cancel";
      return c.json({ action, job_status: job.status } as const, 200);
    },
  );

  // ---- POST /v1/checkpoints/uploads --------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/checkpoints/uploads",
      tags: ["runner"],
      summary: "Upload URLs for a checkpoint's files",
      request: body(CheckpointUploadsRequest),
      responses: json(CheckpointUploadsResponse, "One PUT URL per file"),
    }),
    async (c) => {
      const run = c.get("run");
      const job = c.get("job");
      if (run.status === "ended") throw runEnded();
      const { step, files: wanted } = c.req.valid("json");
      assertStepInRange(job, step);
      const prefix = checkpointPrefix(job.projectId, job.id, step);
      const exp = nowS() + ttl;
      const base = baseUrl(c.req.url);
      const uploads = await Promise.all(
        wanted.map(async (f) => {
          const key = `${prefix}/${f.name}`;
          const url =
            (await deps.store.presign(key, "PUT", ttl)) ?? (await signedObjectUrl(base, run, key, "PUT", exp));
          return { name: f.name, method: "PUT" as const, url, headers: { "content-type": "application/octet-stream" } };
        }),
      );
      return c.json({ prefix, expires_at: exp, uploads }, 200);
    },
  );

  // ---- POST /v1/checkpoints ------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/checkpoints",
      tags: ["runner"],
      summary: "Register an uploaded checkpoint",
      request: body(CheckpointRegisterRequest),
      responses: json(CheckpointRegisterResponse, "The checkpoint"),
    }),
    async (c) => {
      const run = c.get("run");
      const job = c.get("job");
      if (run.status === "ended") throw runEnded();
      const req = c.req.valid("json");
      assertStepInRange(job, req.step);
      const prefix = checkpointPrefix(job.projectId, job.id, req.step);
      // Every file must be in the store, whole: a checkpoint is never registered half-uploaded.
      for (const [i, f] of req.files.entries()) {
        const head = await deps.store.head(`${prefix}/${f.name}`);
        if (!head)
          throw new ApiError(400, `Checkpoint file '${f.name}' was not uploaded.`, {
            param: `files.${i}.name`,
            code: "file_not_uploaded",
          });
        if (head.bytes !== f.bytes) {
          throw new ApiError(400, `Checkpoint file '${f.name}' has ${head.bytes} bytes in the store, not ${f.bytes}.`, {
            param: `files.${i}.bytes`,
            code: "size_mismatch",
          });
        }
      }
      const metrics: Record<string, number> = { step: req.step };
      for (const [k, v] of Object.entries(req.metrics)) if (typeof v === "number" && Number.isFinite(v)) metrics[k] = v;
      const modelName = `${fineTunedName(job)}:ckpt-step-${req.step}`;
      const fileList = req.files.map((f) => ({
        name: f.name,
        bytes: f.bytes,
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
      }));
      const id = newId(ID_PREFIX.checkpoint);
      // Registering a step again (a run resumed from its very last checkpoint) replaces its files and metrics.
      const stored = await deps.db
        .insert(checkpoints)
        .values({
          id,
          jobId: job.id,
          projectId: job.projectId,
          stepNumber: req.step,
          modelName,
          metrics,
          objectPrefix: prefix,
          files: fileList,
        })
        .onConflictDoUpdate({
          target: [checkpoints.jobId, checkpoints.stepNumber],
          set: { metrics, files: fileList, objectPrefix: prefix },
        })
        .returning({ id: checkpoints.id });
      const bytes = req.files.reduce((n, f) => n + f.bytes, 0);
      await addJobEvent(deps.db, job.id, {
        level: "info",
        message: `Checkpoint created at step ${req.step}: ${modelName}`,
        data: { checkpoint_id: stored[0]?.id ?? id, step: req.step, files: req.files.length, bytes },
      });
      return c.json({ id: stored[0]?.id ?? id, fine_tuned_model_checkpoint: modelName, step_number: req.step }, 200);
    },
  );

  // ---- POST /v1/status ----------------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/status",
      tags: ["runner"],
      summary: "The run's final status: succeeded, failed (with an error for the user), cancelled, or paused",
      request: body(RunnerStatusRequest),
      responses: json(RunnerStatusResponse, "The job after the report"),
    }),
    async (c) => {
      const run = c.get("run");
      const job = c.get("job");
      const req = c.req.valid("json");
      // Ending the run is idempotent: a retried report (lost answer) finds it ended and changes nothing more.
      const ended = await deps.db
        .update(runs)
        .set({ status: "ended", endedAt: nowS() })
        .where(and(eq(runs.id, run.id), ne(runs.status, "ended")))
        .returning({ id: runs.id });
      if (ended.length) await applyFinalStatus(deps, run, job, req);
      const after = (await findRunJob(deps, job.id)) ?? job;
      return c.json({ job_status: after.status, fine_tuned_model: after.fineTunedModel }, 200);
    },
  );

  // ---- GET/PUT /v1/objects/* (local store only) -------------------------------------------------------------------------
  // Signed URLs carry no Authorization header: the signature names the run, the run's scope is checked on use.
  const objects = new OpenAPIHono<RunnerEnv>();
  objects.use("*", async (c, next) => {
    const runId = new URL(c.req.url).searchParams.get("run") ?? "";
    const found = runId ? await findRunById(deps, runId) : null;
    if (!found) throw new ApiError(403, "Invalid or expired object URL.", { code: "invalid_signature" });
    c.set("run", found.run);
    c.set("job", found.job);
    await next();
  });
  const objectKey = (requestUrl: string) => {
    const url = new URL(requestUrl);
    const at = url.pathname.indexOf("/v1/objects/");
    return {
      url,
      key: url.pathname
        .slice(at + "/v1/objects/".length)
        .split("/")
        .map(decodeURIComponent)
        .join("/"),
    };
  };
  objects.get("/*", async (c) => {
    const { url, key } = objectKey(c.req.url);
    await verifySignedUrl(url, key, "GET", c.get("run"));
    const file = await assertInScope(deps, c.get("job"), key, "GET");
    const obj = file ? await openComposite(deps.store, file) : await deps.store.get(key);
    if (!obj) throw new ApiError(404, `No such object: ${key}`, { code: "not_found" });
    return new Response(obj.body, {
      headers: { "content-type": "application/octet-stream", "content-length": String(obj.bytes) },
    });
  });
  objects.put("/*", async (c) => {
    const { url, key } = objectKey(c.req.url);
    await verifySignedUrl(url, key, "PUT", c.get("run"));
    await assertInScope(deps, c.get("job"), key, "PUT");
    if (c.get("run").status === "ended") throw runEnded();
    const length = Number(c.req.header("content-length") ?? Number.NaN);
    // A zero-byte file arrives without a body stream.
    const stream = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (ctrl) => ctrl.close() });
    const put = await deps.store.put(key, stream, Number.isFinite(length) ? { contentLength: length } : {});
    return c.json({ key: put.key, bytes: put.bytes, sha256: put.sha256 }, 200);
  });

  const root = new OpenAPIHono<RunnerEnv>();
  root.route("/v1/objects", objects);
  root.route("/", app);
  return root;
}

/** The job's newest registered checkpoint: the resume point, and the model a successful run leaves. */
async function latestCheckpoint(deps: AppDeps, jobId: string) {
  const rows = await deps.db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.jobId, jobId))
    .orderBy(desc(checkpoints.stepNumber))
    .limit(1);
  return rows[0];
}

/** The statements that store a batch of a runner's events and step metrics and move the job's progress. */
function eventStatements(
  deps: AppDeps,
  job: JobRow,
  events: z.infer<typeof RunnerEventIn>[],
  metrics: RunnerStepMetrics[],
): unknown[] {
  const now = nowS();
  const rows: (typeof jobEvents.$inferInsert)[] = events.map((e) => ({
    id: newId(ID_PREFIX.event),
    jobId: job.id,
    level: e.level,
    message: e.message,
    type: e.type ?? "message",
    data: e.data ?? null,
    createdAt: Math.min(e.created_at ?? now, now),
  }));
  const sorted = [...metrics].sort((a, b) => a.step - b.step);
  for (const m of sorted) {
    rows.push({
      id: newId(ID_PREFIX.event),
      jobId: job.id,
      level: "info",
      message: metricsMessage(m, job.totalSteps),
      type: "metrics",
      data: metricsEventData(m, job.totalSteps),
      createdAt: now,
    });
  }
  const statements: unknown[] = [];
  // One bound parameter per 100 rows, a JSON array the database unpacks (json_each): binding 7 values per row
  // through the query builder cost ~5x more CPU than the insert itself, and D1 allows 100 parameters a statement.
  // insert().select() fills the columns in table order: id, job_id, created_at, level, message, type, data.
  for (let i = 0; i < rows.length; i += 100) {
    const json = JSON.stringify(rows.slice(i, i + 100));
    statements.push(
      deps.db.insert(jobEvents).select(sql`
        SELECT json_extract(value, '$.id'), json_extract(value, '$.jobId'), json_extract(value, '$.createdAt'),
               json_extract(value, '$.level'), json_extract(value, '$.message'), json_extract(value, '$.type'),
               json_extract(value, '$.data')
        FROM json_each(${json})`),
    );
  }
  const progress = progressPatch(job, sorted, now);
  if (progress) statements.push(deps.db.update(jobs).set(progress).where(eq(jobs.id, job.id)));
  return statements;
}

// ---- the final status ---------------------------------------------------------------------------------------------------

async function applyFinalStatus(deps: AppDeps, run: RunRow, job: JobRow, req: z.infer<typeof RunnerStatusRequest>) {
  const data = { run_id: run.id, attempt: run.attempt, ...(req.step !== undefined ? { step: req.step } : {}) };
  switch (req.status) {
    case "succeeded": {
      const last = await latestCheckpoint(deps, job.id);
      if (!last) {
        const message = "The runner reported success but registered no checkpoint, so there is no model to keep.";
        await transition(
          deps.db,
          job.id,
          "failed",
          { level: "error", message, data },
          {
            from: ["running"],
            patch: { error: { code: "no_checkpoint", message, param: null } },
          },
        );
        return;
      }
      const name = fineTunedName(job);
      const hasMerged = last.files.some((f) => f.name.startsWith("merged/"));
      await deps.db
        .insert(models)
        .values({
          id: name,
          projectId: job.projectId,
          kind: "fine_tuned",
          ownedBy: job.projectId,
          objectPrefix: hasMerged ? `${last.objectPrefix}/merged` : last.objectPrefix,
          checkpointId: last.id,
          jobId: job.id,
        })
        .onConflictDoNothing();
      const moved = await transition(
        deps.db,
        job.id,
        "succeeded",
        {
          message: "The job has successfully completed",
          data: { ...data, fine_tuned_model: name, checkpoint_id: last.id },
        },
        // From paused too: a pause that arrived after the last step finds the work done.
        { from: ["running", "paused"], patch: { fineTunedModel: name, estimatedFinish: null } },
      );
      if (moved.ok) {
        await addJobEvent(deps.db, job.id, {
          level: "info",
          message: `New fine-tuned model created: ${name}`,
          data: { fine_tuned_model: name },
        });
      } else {
        await deps.db.delete(models).where(and(eq(models.id, name), eq(models.jobId, job.id)));
      }
      return;
    }
    case "failed": {
      const message = (req.error ?? "The run failed.").slice(0, 16_000);
      await transition(
        deps.db,
        job.id,
        "failed",
        { level: "error", message: `Training failed: ${message}`, data },
        {
          from: ["running", "queued", "paused"],
          patch: { error: { code: "training_failed", message, param: null }, estimatedFinish: null },
        },
      );
      return;
    }
    case "paused": {
      // The job as it is now: it may have been resumed (or cancelled) while the runner saved its checkpoint.
      const now = (await findRunJob(deps, job.id)) ?? job;
      const after = req.step !== undefined ? ` after step ${req.step}` : "";
      if (now.status === "paused") {
        await addJobEvent(deps.db, job.id, {
          level: "info",
          message: `Runner stopped${after} and freed its machine; the job is paused and resuming starts a new run from the last checkpoint`,
          data,
        });
        return;
      }
      if (now.status !== "running" && now.status !== "queued") return;
      // Resumed before this runner stopped: a new run picks up from the checkpoint it just saved. The heartbeat may
      // have moved the job back to running for this run, which is now ended: queue it again.
      const requeued =
        now.status === "queued" ||
        (
          await transition(
            deps.db,
            job.id,
            "queued",
            {
              message: `Runner stopped${after} for the pause; the job was resumed meanwhile, so a new run continues`,
              data,
            },
            { from: ["running"] },
          )
        ).ok;
      if (requeued) await deps.queue.send({ kind: "dispatch", jobId: job.id });
      return;
    }
    case "cancelled":
      if (job.status !== "cancelled") {
        await addJobEvent(deps.db, job.id, {
          level: "warn",
          message: `The runner stopped (cancelled) while the job is ${job.status}`,
          data,
        });
      }
      return;
  }
}

// ---- helpers -------------------------------------------------------------------------------------------------------------

async function findRun(deps: AppDeps, tokenHash: string) {
  const run = (await deps.db.select().from(runs).where(eq(runs.tokenHash, tokenHash)).limit(1))[0];
  if (!run) return null;
  const job = await findRunJob(deps, run.jobId);
  return job ? { run, job } : null;
}

async function findRunById(deps: AppDeps, runId: string) {
  if (!runId) return null;
  const run = (await deps.db.select().from(runs).where(eq(runs.id, runId)).limit(1))[0];
  if (!run) return null;
  const job = await findRunJob(deps, run.jobId);
  return job ? { run, job } : null;
}

async function findRunJob(deps: AppDeps, jobId: string) {
  return (await deps.db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1))[0] ?? null;
}

const jobNotRunnable = (job: JobRow) =>
  new ApiError(409, `Job ${job.id} is ${job.status}; there is nothing to run.`, { code: "job_not_runnable" });

function assertStepInRange(job: JobRow, step: number) {
  if (job.totalSteps !== null && step > job.totalSteps) {
    throw new ApiError(400, `step ${step} is beyond the job's ${job.totalSteps} steps`, {
      param: "step",
      code: "invalid_value",
    });
  }
}

/** currentStep, trainedTokens and estimatedFinish from a batch of step metrics (never moves currentStep back). */
function progressPatch(job: JobRow, metrics: RunnerStepMetrics[], now: number) {
  if (!metrics.length) return null;
  const step = Math.max(job.currentStep, ...metrics.map((m) => m.step));
  const tokens = metrics.reduce((n, m) => n + tokensOf(m), 0);
  const times = metrics.map((m) => m.step_time_s).filter((t): t is number => typeof t === "number" && t > 0);
  const total = job.totalSteps ?? metrics.find((m) => m.total_steps)?.total_steps ?? null;
  const meanStep = times.length ? times.reduce((a, b) => a + b, 0) / times.length : null;
  return {
    currentStep: step,
    trainedTokens: (job.trainedTokens ?? 0) + tokens,
    ...(meanStep !== null && total !== null
      ? { estimatedFinish: now + Math.round(meanStep * Math.max(0, total - step)) }
      : {}),
  };
}

// ---- signed object URLs ----------------------------------------------------------------------------------------------------

/**
 * `<base>/v1/objects/<key>?run=<id>&method=GET&exp=<unix s>&sig=<hmac>`. The HMAC key derives from the run's token
 * hash, so a URL dies with its run's token; the token's holder could mint such URLs itself, which is why every use
 * is also checked against the job's scope (`assertInScope`): the URL grants nothing the token does not.
 */
async function signedObjectUrl(
  base: string,
  run: RunRow,
  key: string,
  method: "GET" | "PUT",
  exp: number,
): Promise<string> {
  const sig = await hmacHex(run.tokenHash, `${method}\n${key}\n${exp}\n${run.id}`);
  const path = key.split("/").map(encodeURIComponent).join("/");
  return `${base}/v1/objects/${path}?run=${encodeURIComponent(run.id)}&method=${method}&exp=${exp}&sig=${sig}`;
}

async function verifySignedUrl(url: URL, key: string, method: "GET" | "PUT", run: RunRow): Promise<void> {
  const exp = Number(url.searchParams.get("exp"));
  const sig = url.searchParams.get("sig") ?? "";
  const bad = () => new ApiError(403, "Invalid or expired object URL.", { code: "invalid_signature" });
  if (url.searchParams.get("method") !== method || !Number.isInteger(exp) || exp < nowS()) throw bad();
  const want = await hmacHex(run.tokenHash, `${method}\n${key}\n${exp}\n${run.id}`);
  if (!timingSafeEqual(want, sig)) throw bad();
}

/** Throws unless the run may touch `key`; for one of the job's files, returns where its bytes are. */
async function assertInScope(
  deps: AppDeps,
  job: JobRow,
  key: string,
  method: "GET" | "PUT",
): Promise<CompositeRef | null> {
  const own = `checkpoints/${job.projectId}/${job.id}/`;
  if (method === "PUT") {
    if (key.startsWith(`${own}step-`)) return null;
  } else {
    if (key.startsWith(own)) return null;
    const fileRows = await deps.db
      .select({ objectKey: files.objectKey, bytes: files.bytes, parts: files.parts })
      .from(files)
      .where(
        and(
          eq(files.projectId, job.projectId),
          sql`${files.id} IN (${job.trainingFile}, ${job.validationFile ?? job.trainingFile})`,
        ),
      );
    const file = fileRows.find((r) => r.objectKey === key);
    if (file) return file;
    const model = await findModel(deps.db, job.projectId, job.model);
    const prefix = model?.objectPrefix?.replace(/\/+$/, "");
    if (prefix && key.startsWith(`${prefix}/`)) return null;
  }
  throw new ApiError(403, "This run may not access that object.", { code: "out_of_scope" });
}

async function hmacHex(secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(`rft-object-url:${secret}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(message));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
