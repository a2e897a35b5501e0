import { z } from "@hono/zod-openapi";

/**
 * The runner protocol's bodies (control plane ⇄ runner). Every request body is checked on arrival; the runner
 * (gpu-runner/supervisor/http-io.ts) checks every answer with its own copy of these shapes, since it ships
 * without the API's code.
 */

/** A file the runner downloads: a presigned URL (S3) or a signed URL on this API (local store). */
export const RunnerFile = z
  .object({
    name: z.string(),
    url: z.string(),
    bytes: z.number().int().nonnegative(),
    /** The object key: stable across runs, so a runner may cache by it (base models). */
    key: z.string(),
    sha256: z.string().nullable(),
  })
  .openapi("RunnerFile");
export type RunnerFile = z.infer<typeof RunnerFile>;

export const RunnerSpec = z
  .object({
    object: z.literal("runner.spec"),
    job: z.object({
      id: z.string(),
      project_id: z.string(),
      model: z.string(),
      suffix: z.string().nullable(),
      seed: z.number().int(),
      status: z.string(),
      /** The name the fine-tuned model will get. */
      fine_tuned_model: z.string(),
    }),
    run: z.object({ id: z.string(), attempt: z.number().int(), max_attempts: z.number().int() }),
    method: z.object({
      type: z.enum(["reinforcement", "supervised"]),
      /** Resolved numbers in the supervisor's vocabulary (`n`, `learning_rate`, `max_tokens`, `lora`, ...). */
      hyperparameters: z.record(z.string(), z.unknown()),
    }),
    grader: z.record(z.string(), z.unknown()).nullable(),
    training_file: RunnerFile,
    validation_file: RunnerFile.nullable(),
    model: z.object({
      id: z.string(),
      base: z.string(),
      files: z.array(RunnerFile),
      /** Set for a model named on the Hugging Face Hub: the runner fetches it itself (`files` is empty). */
      hub: z.string().nullable(),
    }),
    /** The last registered checkpoint: the run downloads it and continues from its step. */
    resume: z.object({ step: z.number().int(), checkpoint_id: z.string(), files: z.array(RunnerFile) }).nullable(),
    total_steps: z.number().int().nullable(),
    heartbeat_interval_ms: z.number().int(),
    /** Unix seconds after which the URLs above stop working: fetch the spec again. */
    urls_expire_at: z.number().int(),
  })
  .openapi("RunnerSpec");
export type RunnerSpec = z.infer<typeof RunnerSpec>;

const finite = z.number().refine(Number.isFinite, "must be a finite number");

export const RunnerEventIn = z.object({
  level: z.enum(["info", "warn", "error"]),
  message: z.string().min(1).max(8_000),
  type: z.enum(["message", "metrics"]).optional(),
  data: z.record(z.string(), z.unknown()).nullable().optional(),
  created_at: z.number().int().positive().optional(),
});

/** One step's numbers, as the supervisor's `StepMetrics`; unknown numeric fields are kept. */
export const RunnerStepMetrics = z
  .object({
    step: z.number().int().nonnegative(),
    total_steps: z.number().int().positive().optional(),
    epoch: z.number().optional(),
    train_reward_mean: finite.optional(),
    valid_reward_mean: finite.optional(),
    train_loss: finite.optional(),
    step_time_s: finite.optional(),
    tokens_per_s: finite.optional(),
    /** Tokens trained on in this step; if absent, tokens_per_s × step_time_s. */
    trained_tokens: z.number().int().nonnegative().optional(),
    time_sample_s: finite.optional(),
    time_grade_s: finite.optional(),
    time_train_s: finite.optional(),
    time_eval_s: finite.optional(),
    skipped: z.boolean().optional(),
    batch_lines: z.array(z.number().int()).optional(),
  })
  .catchall(z.unknown());
export type RunnerStepMetrics = z.infer<typeof RunnerStepMetrics>;

export const RunnerEventsRequest = z
  .object({
    events: z.array(RunnerEventIn).max(1_000).default([]),
    metrics: z.array(RunnerStepMetrics).max(1_000).default([]),
  })
  .openapi("RunnerEventsRequest");

export const RunnerEventsResponse = z.object({ accepted: z.object({ events: z.number(), metrics: z.number() }) });

export const RunnerHeartbeatRequest = z
  .object({
    step: z.number().int().nonnegative(),
    total_steps: z.number().int().nonnegative().optional(),
    status: z.enum(["starting", "running", "paused"]).default("running"),
  })
  .openapi("RunnerHeartbeatRequest");

export const RunnerHeartbeatResponse = z
  .object({ action: z.enum(["continue", "pause", "cancel"]), job_status: z.string() })
  .openapi("RunnerHeartbeatResponse");

/** `merged/model.safetensors`: relative, `/`-separated, no `.` or `..` segments. */
export const CheckpointFileName = z
  .string()
  .min(1)
  .max(512)
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/,
    "a relative path of letters, digits, '.', '_', '-' and '/'",
  );

export const CheckpointUploadsRequest = z
  .object({
    step: z.number().int().nonnegative(),
    files: z
      .array(z.object({ name: CheckpointFileName, bytes: z.number().int().nonnegative() }))
      .min(1)
      .max(1_000),
  })
  .openapi("RunnerCheckpointUploadsRequest");

export const CheckpointUploadsResponse = z
  .object({
    prefix: z.string(),
    expires_at: z.number().int(),
    uploads: z.array(
      z.object({
        name: z.string(),
        method: z.literal("PUT"),
        url: z.string(),
        headers: z.record(z.string(), z.string()),
      }),
    ),
  })
  .openapi("RunnerCheckpointUploadsResponse");

export const CheckpointRegisterRequest = z
  .object({
    step: z.number().int().nonnegative(),
    files: z
      .array(
        z.object({ name: CheckpointFileName, bytes: z.number().int().nonnegative(), sha256: z.string().optional() }),
      )
      .min(1)
      .max(1_000),
    metrics: z.record(z.string(), z.unknown()).default({}),
  })
  .openapi("RunnerCheckpointRegisterRequest");

export const CheckpointRegisterResponse = z
  .object({ id: z.string(), fine_tuned_model_checkpoint: z.string(), step_number: z.number().int() })
  .openapi("RunnerCheckpointRegisterResponse");

export const RunnerStatusRequest = z
  .object({
    status: z.enum(["succeeded", "failed", "cancelled", "paused"]),
    /** For `failed`: what went wrong, in words a user can act on. */
    error: z.string().max(16_000).optional(),
    step: z.number().int().nonnegative().optional(),
  })
  .superRefine((body, ctx) => {
    if (body.status === "failed" && !body.error?.trim()) {
      ctx.addIssue({ code: "custom", path: ["error"], message: "is required when status is 'failed'" });
    }
  })
  .openapi("RunnerStatusRequest");

export const RunnerStatusResponse = z
  .object({ job_status: z.string(), fine_tuned_model: z.string().nullable() })
  .openapi("RunnerStatusResponse");
