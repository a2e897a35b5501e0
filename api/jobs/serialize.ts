import type { checkpoints, jobEvents } from "../../db/schema/index.ts";
import type { JobRow } from "./service.ts";

/** Rows are never responses: one serializer per object. */
export function toFineTuningJob(row: JobRow) {
  const method = row.method as { type: string; supervised?: { hyperparameters?: Record<string, unknown> } };
  return {
    object: "fine_tuning.job" as const,
    id: row.id,
    created_at: row.createdAt,
    error: row.error ?? null,
    fine_tuned_model: row.fineTunedModel,
    finished_at: row.finishedAt,
    // OpenAI returns the top-level hyperparameters only for supervised jobs.
    hyperparameters: method.type === "supervised" ? (method.supervised?.hyperparameters ?? null) : null,
    model: row.model,
    organization_id: row.projectId,
    result_files: row.resultFiles,
    seed: row.seed,
    status: row.status,
    trained_tokens: row.trainedTokens,
    training_file: row.trainingFile,
    validation_file: row.validationFile,
    estimated_finish: row.estimatedFinish,
    integrations: [] as Record<string, unknown>[],
    metadata: row.metadata ?? null,
    method: row.method,
    user_provided_suffix: row.suffix,
    usage_metrics: null,
    shared_with_openai: false,
  };
}

export function toJobEvent(row: typeof jobEvents.$inferSelect) {
  return {
    object: "fine_tuning.job.event" as const,
    id: row.id,
    created_at: row.createdAt,
    level: row.level,
    message: row.message,
    type: row.type,
    data: row.data ?? null,
  };
}

export function toCheckpoint(row: typeof checkpoints.$inferSelect) {
  return {
    object: "fine_tuning.job.checkpoint" as const,
    id: row.id,
    created_at: row.createdAt,
    fine_tuned_model_checkpoint: row.modelName,
    fine_tuning_job_id: row.jobId,
    step_number: row.stepNumber,
    metrics: row.metrics,
    files: row.files.map((f) => ({ name: f.name, bytes: f.bytes, ...(f.sha256 ? { sha256: f.sha256 } : {}) })),
  };
}
