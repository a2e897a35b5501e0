import { z } from "@hono/zod-openapi";

/** `"auto"` or a number in range: every OpenAI hyperparameter has this shape, and `"auto"` is echoed back as-is. */
const auto = <T extends z.ZodType>(n: T) => z.union([z.literal("auto"), n]).optional();
const int = (min: number, max?: number) =>
  max === undefined ? z.number().int().min(min) : z.number().int().min(min).max(max);

const Common = {
  batch_size: auto(int(1, 256)),
  learning_rate_multiplier: auto(z.number().gt(0).max(100)),
  n_epochs: auto(int(1, 50)),
};

export const SupervisedHyperparameters = z.object(Common).strict().openapi("SupervisedHyperparameters");

/**
 * Reinforcement hyperparameters. Beyond OpenAI (documented in the README): `group_size` (samples per prompt),
 * `max_completion_tokens`, `temperature`, `checkpoint_interval`, `lora_rank`.
 */
export const ReinforcementHyperparameters = z
  .object({
    ...Common,
    eval_interval: auto(int(1)),
    eval_samples: auto(int(1, 64)),
    compute_multiplier: auto(z.number().gt(0.00001).max(10)),
    reasoning_effort: z.enum(["default", "low", "medium", "high"]).optional(),
    group_size: auto(int(2, 64)),
    max_completion_tokens: auto(int(1, 32_768)),
    temperature: auto(z.number().gt(0).max(2)),
    checkpoint_interval: auto(int(1)),
    lora_rank: auto(int(0, 512)),
  })
  .strict()
  .openapi("ReinforcementHyperparameters");

/** The grader is checked by the graders library (`validateGrader`), which names the bad field. */
const GraderInput = z.record(z.string(), z.unknown()).openapi({ description: "An OpenAI grader definition" });

export const JobMethod = z
  .object({
    type: z.enum(["supervised", "reinforcement", "dpo"]),
    supervised: z.object({ hyperparameters: SupervisedHyperparameters.optional() }).optional(),
    reinforcement: z
      .object({
        grader: GraderInput,
        hyperparameters: ReinforcementHyperparameters.optional(),
        response_format: z.record(z.string(), z.unknown()).nullable().optional(),
      })
      .optional(),
    // Accepted (the SDK's own tests send every sub-object) but DPO jobs are rejected by the route.
    dpo: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("FineTuneMethod");

export const Metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, "at most 16 metadata pairs")
  .nullable()
  .optional();

export const CreateJobRequest = z
  .object({
    model: z.string().min(1),
    training_file: z.string().min(1),
    validation_file: z.string().min(1).nullable().optional(),
    suffix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only")
      .nullable()
      .optional(),
    seed: z.number().int().min(0).max(2_147_483_647).nullable().optional(),
    metadata: Metadata,
    method: JobMethod.optional(),
    hyperparameters: SupervisedHyperparameters.optional().openapi({ description: "Deprecated: use method" }),
    integrations: z.array(z.record(z.string(), z.unknown())).max(5).nullable().optional(),
  })
  .strict()
  .openapi("CreateFineTuningJobRequest");
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;

const JobError = z.object({ code: z.string(), message: z.string(), param: z.string().nullable() });

export const FineTuningJob = z
  .object({
    object: z.literal("fine_tuning.job"),
    id: z.string(),
    created_at: z.number().int(),
    error: JobError.nullable(),
    fine_tuned_model: z.string().nullable(),
    finished_at: z.number().int().nullable(),
    hyperparameters: z.record(z.string(), z.unknown()).nullable(),
    model: z.string(),
    organization_id: z.string(),
    result_files: z.array(z.string()),
    seed: z.number().int(),
    status: z.string(),
    trained_tokens: z.number().int().nullable(),
    training_file: z.string(),
    validation_file: z.string().nullable(),
    estimated_finish: z.number().int().nullable(),
    integrations: z.array(z.record(z.string(), z.unknown())).nullable(),
    metadata: z.record(z.string(), z.string()).nullable(),
    method: z.record(z.string(), z.unknown()),
    user_provided_suffix: z.string().nullable(),
    usage_metrics: z.record(z.string(), z.unknown()).nullable(),
    shared_with_openai: z.boolean(),
  })
  .openapi("FineTuningJob");
export type FineTuningJob = z.infer<typeof FineTuningJob>;

export const FineTuningJobEvent = z
  .object({
    object: z.literal("fine_tuning.job.event"),
    id: z.string(),
    created_at: z.number().int(),
    level: z.enum(["info", "warn", "error"]),
    message: z.string(),
    type: z.enum(["message", "metrics"]),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("FineTuningJobEvent");

export const CheckpointFile = z
  .object({ name: z.string(), bytes: z.number().int(), sha256: z.string().optional() })
  .openapi("CheckpointFile");

export const FineTuningJobCheckpoint = z
  .object({
    object: z.literal("fine_tuning.job.checkpoint"),
    id: z.string(),
    created_at: z.number().int(),
    fine_tuned_model_checkpoint: z.string(),
    fine_tuning_job_id: z.string(),
    step_number: z.number().int(),
    metrics: z.record(z.string(), z.number()),
    files: z.array(CheckpointFile).openapi({ description: "Beyond OpenAI: the checkpoint's downloadable files" }),
  })
  .openapi("FineTuningJobCheckpoint");

export const JobIdParam = z.object({
  fine_tuning_job_id: z.string().openapi({ param: { name: "fine_tuning_job_id", in: "path" } }),
});
