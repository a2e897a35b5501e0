import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn, projectColumn } from "./columns.ts";

/**
 * Fine-tuning jobs (`ftjob-…`). Only `api/jobs/lifecycle.ts` writes `status`. `method` holds the effective method
 * as returned to clients (hyperparameters echoed, `"auto"` kept); `resolved` holds the numbers the runner uses.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: idColumn(),
    projectId: projectColumn(),
    model: text("model").notNull(),
    trainingFile: text("training_file").notNull(),
    validationFile: text("validation_file"),
    suffix: text("suffix"),
    seed: integer("seed").notNull(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, string> | null>(),
    method: text("method", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    resolved: text("resolved", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    status: text("status", {
      enum: ["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"],
    }).notNull(),
    error: text("error", { mode: "json" }).$type<{ code: string; message: string; param: string | null } | null>(),
    fineTunedModel: text("fine_tuned_model"),
    trainedTokens: integer("trained_tokens"),
    resultFiles: text("result_files", { mode: "json" }).notNull().$type<string[]>(),
    estimatedFinish: integer("estimated_finish"),
    finishedAt: integer("finished_at"),
    /** Dispatch attempts so far (the reaper requeues a dead run until `maxAttempts`). */
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    currentStep: integer("current_step").notNull().default(0),
    totalSteps: integer("total_steps"),
    idempotencyKey: text("idempotency_key"),
    createdAt: createdAtColumn(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("jobs_project").on(t.projectId, t.id),
    index("jobs_status").on(t.status),
    uniqueIndex("jobs_idempotency").on(t.projectId, t.idempotencyKey),
  ],
);

/** `fine_tuning.job.event`: messages and per-step metrics (type `metrics`), newest first in lists. */
export const jobEvents = sqliteTable(
  "job_events",
  {
    id: idColumn(),
    jobId: text("job_id").notNull(),
    createdAt: createdAtColumn(),
    level: text("level", { enum: ["info", "warn", "error"] }).notNull(),
    message: text("message").notNull(),
    type: text("type", { enum: ["message", "metrics"] }).notNull(),
    data: text("data", { mode: "json" }).$type<Record<string, unknown> | null>(),
  },
  (t) => [index("job_events_job").on(t.jobId, t.id)],
);

/** `fine_tuning.job.checkpoint` plus the files we store for it (merged safetensors, adapter, ONNX). */
export const checkpoints = sqliteTable(
  "checkpoints",
  {
    id: idColumn(),
    jobId: text("job_id").notNull(),
    projectId: projectColumn(),
    stepNumber: integer("step_number").notNull(),
    modelName: text("model_name").notNull(),
    metrics: text("metrics", { mode: "json" }).notNull().$type<Record<string, number>>(),
    /** Object-store prefix: every file of the checkpoint is `<prefix>/<name>`. */
    objectPrefix: text("object_prefix").notNull(),
    files: text("files", { mode: "json" }).notNull().$type<{ name: string; bytes: number; sha256?: string }[]>(),
    createdAt: createdAtColumn(),
  },
  (t) => [
    index("checkpoints_job").on(t.jobId, t.id),
    uniqueIndex("checkpoints_job_step").on(t.jobId, t.stepNumber),
    // Jobs and runners find a checkpoint by its model name (a shared checkpoint used as a job's model).
    index("checkpoints_model_name").on(t.modelName),
  ],
);

/**
 * A checkpoint shared with another project (`cp_…`, OpenAI's checkpoint permissions): that project may use the
 * checkpoint's model name as a job's `model` and retrieve it under `/v1/models`. Granted and revoked with an admin key.
 */
export const checkpointPermissions = sqliteTable(
  "checkpoint_permissions",
  {
    id: idColumn(),
    checkpointId: text("checkpoint_id").notNull(),
    /** The project the checkpoint is shared with. */
    granteeProjectId: text("grantee_project_id").notNull(),
    createdAt: createdAtColumn(),
  },
  (t) => [uniqueIndex("checkpoint_permissions_grant").on(t.checkpointId, t.granteeProjectId)],
);

/**
 * One launch of a job on a runner. The runner authenticates with a token scoped to this run; only the hash is
 * stored. The reaper looks at `heartbeatAt`.
 */
export const runs = sqliteTable(
  "runs",
  {
    id: idColumn(),
    jobId: text("job_id").notNull(),
    attempt: integer("attempt").notNull(),
    backend: text("backend").notNull(),
    backendRef: text("backend_ref"),
    tokenHash: text("token_hash").notNull().unique(),
    status: text("status", { enum: ["starting", "running", "ended"] }).notNull(),
    createdAt: createdAtColumn(),
    heartbeatAt: integer("heartbeat_at"),
    endedAt: integer("ended_at"),
  },
  (t) => [index("runs_job").on(t.jobId), index("runs_status").on(t.status)],
);
