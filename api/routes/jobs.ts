import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import { streamSSE } from "hono/streaming";
import { checkpoints, jobEvents, jobs } from "../../db/schema/index.ts";
import type { AppDeps } from "../deps.ts";
import { TERMINAL } from "../jobs/lifecycle.ts";
import { toCheckpoint, toFineTuningJob, toJobEvent } from "../jobs/serialize.ts";
import { cancelJob, createJob, getJob, pauseJob, resumeJob } from "../jobs/service.ts";
import { PageQuery, pageSchema, toPage } from "../lib/pagination.ts";
import { newRouter } from "../router.ts";
import {
  CreateJobRequest,
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobEvent,
  JobIdParam,
} from "../schemas/jobs.ts";

/** The event stream writes a comment when it has been quiet this long. */
const KEEP_ALIVE_MS = 15_000;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});

const jobAction = (action: "cancel" | "pause" | "resume", summary: string) =>
  createRoute({
    method: "post",
    path: `/fine_tuning/jobs/{fine_tuning_job_id}/${action}`,
    summary,
    request: { params: JobIdParam },
    responses: json(FineTuningJob, "The job"),
  });

/** `metadata[key]=value` query pairs, as the SDK serialises `metadata: {key: value}`. */
function metadataFilter(url: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [k, v] of new URL(url).searchParams) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m?.[1]) pairs.push([m[1], v]);
  }
  return pairs;
}

/** Fine-tuning jobs: the OpenAI routes, plus a live event stream (server-sent events). */
export function jobsRoutes(deps: AppDeps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/fine_tuning/jobs",
      summary: "Create a fine-tuning job (reinforcement or supervised)",
      request: {
        headers: z.object({ "idempotency-key": z.string().max(255).optional() }),
        body: { content: { "application/json": { schema: CreateJobRequest } }, required: true },
      },
      responses: json(FineTuningJob, "The created job"),
    }),
    async (c) => {
      const key = c.req.valid("header")["idempotency-key"];
      const job = await createJob(deps, c.get("projectId"), c.req.valid("json"), key);
      return c.json(toFineTuningJob(job), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/jobs",
      summary: "List jobs, newest first",
      request: { query: PageQuery },
      responses: json(pageSchema(FineTuningJob, "FineTuningJobPage"), "A page of jobs"),
    }),
    async (c) => {
      const { after, limit = 20 } = c.req.valid("query");
      const where = [eq(jobs.projectId, c.get("projectId"))];
      if (after) where.push(lt(jobs.id, after));
      for (const [key, value] of metadataFilter(c.req.url)) {
        where.push(sql`json_extract(${jobs.metadata}, ${`$."${key.replaceAll('"', "")}"`}) = ${value}`);
      }
      const rows = await deps.db
        .select()
        .from(jobs)
        .where(and(...where))
        .orderBy(desc(jobs.id))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, toFineTuningJob), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/jobs/{fine_tuning_job_id}",
      summary: "Retrieve a job",
      request: { params: JobIdParam },
      responses: json(FineTuningJob, "The job"),
    }),
    async (c) =>
      c.json(toFineTuningJob(await getJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id)), 200),
  );

  app.openapi(jobAction("cancel", "Cancel a job (a running runner stops within one heartbeat)"), async (c) =>
    c.json(toFineTuningJob(await cancelJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id)), 200),
  );
  app.openapi(jobAction("pause", "Pause a queued or running job"), async (c) =>
    c.json(toFineTuningJob(await pauseJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id)), 200),
  );
  app.openapi(jobAction("resume", "Resume a paused job from its last checkpoint"), async (c) =>
    c.json(toFineTuningJob(await resumeJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/jobs/{fine_tuning_job_id}/events",
      summary: "List a job's events, newest first (metrics events carry the per-step rewards)",
      request: { params: JobIdParam, query: PageQuery },
      responses: json(pageSchema(FineTuningJobEvent, "FineTuningJobEventPage"), "A page of events"),
    }),
    async (c) => {
      const job = await getJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id);
      const { after, limit = 20 } = c.req.valid("query");
      const where = [eq(jobEvents.jobId, job.id)];
      if (after) where.push(lt(jobEvents.id, after));
      const rows = await deps.db
        .select()
        .from(jobEvents)
        .where(and(...where))
        .orderBy(desc(jobEvents.id))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, toJobEvent), 200);
    },
  );

  // Beyond OpenAI: live progress as server-sent events, oldest first, resumable with Last-Event-ID (or ?after=).
  // The stream ends with an `end` event once the job is finished and every event has been sent.
  app.get("/fine_tuning/jobs/:fine_tuning_job_id/events/stream", async (c) => {
    const job = await getJob(deps, c.get("projectId"), c.req.param("fine_tuning_job_id"));
    let cursor = c.req.header("last-event-id") ?? c.req.query("after") ?? "";
    const pollMs = Math.min(5000, Math.max(100, Number(c.req.query("poll_ms") ?? 500)));
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      let wrote = Date.now();
      while (open) {
        const rows = await deps.db
          .select()
          .from(jobEvents)
          .where(and(eq(jobEvents.jobId, job.id), gt(jobEvents.id, cursor)))
          .orderBy(asc(jobEvents.id))
          .limit(500);
        for (const row of rows) {
          await stream.writeSSE({ id: row.id, event: row.type, data: JSON.stringify(toJobEvent(row)) });
          cursor = row.id;
          wrote = Date.now();
        }
        if (rows.length === 500) continue;
        const now = await deps.db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, job.id));
        const status = now[0]?.status;
        if (!status || TERMINAL.has(status)) {
          await stream.writeSSE({ event: "end", data: JSON.stringify({ status }) });
          return;
        }
        if (Date.now() - wrote >= KEEP_ALIVE_MS) {
          // A comment line, which clients skip: proxies that cut quiet connections see traffic, and a client that
          // reconnects after failures knows this connection is alive.
          await stream.write(": keep-alive\n\n");
          wrote = Date.now();
        }
        await stream.sleep(pollMs);
      }
    });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints",
      summary: "List a job's checkpoints, newest first",
      request: { params: JobIdParam, query: PageQuery },
      responses: json(pageSchema(FineTuningJobCheckpoint, "FineTuningJobCheckpointPage"), "A page of checkpoints"),
    }),
    async (c) => {
      const job = await getJob(deps, c.get("projectId"), c.req.valid("param").fine_tuning_job_id);
      const { after, limit = 10 } = c.req.valid("query");
      const where = [eq(checkpoints.jobId, job.id)];
      if (after) where.push(lt(checkpoints.id, after));
      const rows = await deps.db
        .select()
        .from(checkpoints)
        .where(and(...where))
        .orderBy(desc(checkpoints.id))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, toCheckpoint), 200);
    },
  );

  return app;
}
