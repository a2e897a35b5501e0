import { and, eq, isNull } from "drizzle-orm";
import { files } from "../../db/schema/files.ts";
import { jobEvents, jobs } from "../../db/schema/index.ts";
import { validateGrader } from "../../graders/index.ts";
import type { AppDeps } from "../deps.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";
import { findModel } from "../models/registry.ts";
import type { CreateJobRequest } from "../schemas/jobs.ts";
import { echoMethod, resolveHyperparameters } from "./hyperparameters.ts";
import { type JobStatus, TERMINAL, transition } from "./lifecycle.ts";

export type JobRow = typeof jobs.$inferSelect;
type FileRow = typeof files.$inferSelect;
type Method = NonNullable<CreateJobRequest["method"]>;

export async function getJob(deps: Pick<AppDeps, "db">, projectId: string, jobId: string): Promise<JobRow> {
  const rows = await deps.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, jobId), eq(jobs.projectId, projectId)))
    .limit(1);
  if (!rows[0]) throw notFound("fine-tuning job", jobId, "fine_tuning_job_id");
  return rows[0];
}

/** The dataset facts validation recorded on a file (`stats`): example count and which format the lines are. */
function datasetFacts(file: FileRow): { lines: number; format: string | null } {
  const stats = (file.stats ?? {}) as Record<string, unknown>;
  const lines = Number(stats.lines ?? stats.examples ?? 0);
  return { lines, format: typeof stats.format === "string" ? stats.format : null };
}

/** A fine-tune file of this project that is usable by `method`, or the 400 that says why not. */
async function usableFile(
  deps: Pick<AppDeps, "db">,
  projectId: string,
  id: string,
  param: string,
  method: Method["type"],
) {
  const rows = await deps.db
    .select()
    .from(files)
    .where(and(eq(files.id, id), eq(files.projectId, projectId), isNull(files.deletedAt)))
    .limit(1);
  const file = rows[0];
  if (!file) throw badRequest(`No such File object: ${id}`, param, "file_not_found");
  if (file.purpose !== "fine-tune") {
    throw badRequest(
      `File ${id} has purpose '${file.purpose}'; fine-tuning needs purpose 'fine-tune'.`,
      param,
      "invalid_file",
    );
  }
  if (file.status === "uploaded") {
    throw badRequest(
      `File ${id} is still being processed; retry when its status is 'processed'.`,
      param,
      "file_not_ready",
    );
  }
  if (file.status === "error") {
    throw badRequest(`File ${id} failed validation: ${file.statusDetails ?? "invalid file"}`, param, "invalid_file");
  }
  const facts = datasetFacts(file);
  if (facts.format && facts.format !== method) {
    const want = method === "reinforcement" ? "end with a user or developer message" : "end with an assistant message";
    throw badRequest(
      `File ${id} is in the ${facts.format} format, but a ${method} job needs lines that ${want}.`,
      param,
      "invalid_file_format",
    );
  }
  return { file, facts };
}

function methodOf(body: CreateJobRequest): Method {
  if (body.method) return body.method;
  // The deprecated top-level `hyperparameters` means a supervised job.
  return { type: "supervised", supervised: { hyperparameters: body.hyperparameters ?? {} } };
}

/**
 * Creates a job after every check that can be made from rows: model, files (this project's, processed, the
 * right format), grader, hyperparameters. The job starts in `validating_files`; the queue moves it on.
 * With an idempotency key, a repeated create returns the first job instead of a second one.
 */
export async function createJob(
  deps: AppDeps,
  projectId: string,
  body: CreateJobRequest,
  idempotencyKey?: string,
): Promise<JobRow> {
  if (idempotencyKey) {
    const prior = await findByIdempotencyKey(deps, projectId, idempotencyKey);
    if (prior) return prior;
  }
  const method = methodOf(body);
  if (method.type === "dpo")
    throw badRequest("DPO fine-tuning is not supported by this server.", "method.type", "unsupported_method");
  if (method.type === "reinforcement") {
    if (!method.reinforcement) {
      throw badRequest(
        "A reinforcement job needs method.reinforcement with a grader.",
        "method.reinforcement",
        "missing_required_parameter",
      );
    }
    const check = validateGrader(method.reinforcement.grader);
    if (!check.ok)
      throw badRequest(check.message, `method.reinforcement.grader${suffixPath(check.param)}`, "invalid_grader");
    if (check.grader.type === "label_model") {
      throw badRequest(
        "label_model graders are only allowed inside a multi grader.",
        "method.reinforcement.grader.type",
        "invalid_grader",
      );
    }
  }
  const model = await findModel(deps.db, projectId, body.model);
  if (!model)
    throw badRequest(
      `The model '${body.model}' does not exist or you do not have access to it.`,
      "model",
      "model_not_found",
    );

  const train = await usableFile(deps, projectId, body.training_file, "training_file", method.type);
  const valid = body.validation_file
    ? await usableFile(deps, projectId, body.validation_file, "validation_file", method.type)
    : null;

  const seed = body.seed ?? Math.floor(Math.random() * 2_147_483_647);
  const hp =
    (method.type === "reinforcement" ? method.reinforcement?.hyperparameters : method.supervised?.hyperparameters) ??
    {};
  const resolved = resolveHyperparameters(method.type, hp, {
    nTrain: Math.max(1, train.facts.lines),
    nValid: valid?.facts.lines ?? 0,
    seed,
  });

  const id = newId(ID_PREFIX.job);
  const now = Date.now();
  try {
    await deps.db.batch([
      deps.db.insert(jobs).values({
        id,
        projectId,
        model: body.model,
        trainingFile: body.training_file,
        validationFile: body.validation_file ?? null,
        suffix: body.suffix ?? null,
        seed,
        metadata: body.metadata ?? null,
        method: echoMethod(method),
        resolved,
        status: "validating_files",
        resultFiles: [],
        totalSteps: resolved.total_steps,
        idempotencyKey: idempotencyKey ?? null,
        createdAt: Math.floor(now / 1000),
        updatedAt: now * 1000,
      }),
      deps.db.insert(jobEvents).values({
        id: newId(ID_PREFIX.event),
        jobId: id,
        level: "info",
        message: `Created fine-tuning job: ${id}`,
        type: "message",
        data: { status: "validating_files" },
      }),
    ]);
  } catch (err) {
    // Two creates with one idempotency key raced: the unique index let one in; return that one.
    if (idempotencyKey) {
      const prior = await findByIdempotencyKey(deps, projectId, idempotencyKey);
      if (prior) return prior;
    }
    throw err;
  }
  await deps.queue.send({ kind: "validate", jobId: id });
  return getJob(deps, projectId, id);
}

const suffixPath = (param: string) => {
  const rest = param.startsWith("grader") ? param.slice("grader".length) : param ? `.${param}` : "";
  return rest;
};

async function findByIdempotencyKey(deps: Pick<AppDeps, "db">, projectId: string, key: string) {
  const rows = await deps.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.projectId, projectId), eq(jobs.idempotencyKey, key)))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * `validating_files → queued`: the files are re-checked (they may have been deleted since create), then the job
 * is queued and a `dispatch` is sent. Safe to run twice (at-least-once queue): a job no longer validating is left alone.
 */
export async function advanceValidation(deps: AppDeps, jobId: string): Promise<void> {
  const rows = await deps.db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1);
  const job = rows[0];
  if (job?.status !== "validating_files") return;
  const type = (job.method as { type: Method["type"] }).type;
  try {
    await usableFile(deps, job.projectId, job.trainingFile, "training_file", type);
    if (job.validationFile) await usableFile(deps, job.projectId, job.validationFile, "validation_file", type);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    await transition(
      deps.db,
      jobId,
      "failed",
      { level: "error", message: err.message },
      {
        from: ["validating_files"],
        patch: { error: { code: err.code ?? "invalid_file", message: err.message, param: err.param } },
      },
    );
    return;
  }
  const moved = await transition(
    deps.db,
    jobId,
    "queued",
    { message: "Files validated; job queued" },
    {
      from: ["validating_files"],
    },
  );
  if (moved.ok) await deps.queue.send({ kind: "dispatch", jobId });
}

const invalidState = (job: JobRow, action: string) =>
  badRequest(`Cannot ${action} job ${job.id}: its status is '${job.status}'.`, "fine_tuning_job_id", "invalid_state");

export async function cancelJob(deps: AppDeps, projectId: string, jobId: string): Promise<JobRow> {
  const job = await getJob(deps, projectId, jobId);
  if (TERMINAL.has(job.status)) throw invalidState(job, "cancel");
  const r = await transition(deps.db, jobId, "cancelled", { message: "Job cancelled by the user" });
  if (!r.ok) throw invalidState({ ...job, status: r.current ?? job.status }, "cancel");
  return getJob(deps, projectId, jobId);
}

export async function pauseJob(deps: AppDeps, projectId: string, jobId: string): Promise<JobRow> {
  const job = await getJob(deps, projectId, jobId);
  const r = await transition(
    deps.db,
    jobId,
    "paused",
    {
      message:
        "Job paused by the user; training stops after the current step, saves a checkpoint and frees its machine until resumed",
    },
    { from: ["queued", "running"] },
  );
  if (!r.ok) throw invalidState({ ...job, status: (r.current ?? job.status) as JobStatus }, "pause");
  return getJob(deps, projectId, jobId);
}

export async function resumeJob(deps: AppDeps, projectId: string, jobId: string): Promise<JobRow> {
  const job = await getJob(deps, projectId, jobId);
  const r = await transition(
    deps.db,
    jobId,
    "queued",
    { message: "Job resumed; it continues from its last checkpoint" },
    {
      from: ["paused"],
    },
  );
  if (!r.ok) throw invalidState({ ...job, status: (r.current ?? job.status) as JobStatus }, "resume");
  await deps.queue.send({ kind: "dispatch", jobId });
  return getJob(deps, projectId, jobId);
}
