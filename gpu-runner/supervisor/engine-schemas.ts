import { z } from "zod";

/**
 * zod schemas for every engine reply (gpu-runner/trainer/PROTOCOL.md). Results are checked on arrival;
 * unknown extra fields are kept out (zod strips them), so a newer engine that adds fields still works.
 */

export const EngineErrorType = z.enum(["invalid_request", "model_error", "nan_loss", "io_error", "internal"]);
export type EngineErrorType = z.infer<typeof EngineErrorType>;

export const EngineReply = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    id: z.number().int(),
    ok: z.literal(false),
    error: z.object({ type: z.string(), message: z.string() }),
  }),
]);
export type EngineReply = z.infer<typeof EngineReply>;

export const ReadyResult = z.object({ ready: z.literal(true), protocol: z.number().int() });

export const InitResult = z.object({
  model_type: z.string(),
  n_params: z.number(),
  n_trainable: z.number(),
  vocab_size: z.number(),
  device: z.string(),
  dtype: z.string(),
  step: z.number().int(),
  eos_token_ids: z.array(z.number().int()),
});
export type InitResult = z.infer<typeof InitResult>;

export const Completion = z.object({
  text: z.string(),
  token_ids: z.array(z.number().int()),
  logprobs: z.array(z.number()),
  finish_reason: z.enum(["stop", "length"]),
});
export type Completion = z.infer<typeof Completion>;

export const SampleResult = z.object({
  results: z.array(z.object({ prompt_token_ids: z.array(z.number().int()), completions: z.array(Completion) })),
});
export type SampleResult = z.infer<typeof SampleResult>;

/** A number that may arrive as null (JSON has no NaN): null is read as NaN so callers test `Number.isFinite`. */
const Num = z
  .number()
  .nullable()
  .transform((v) => (v === null ? Number.NaN : v));
const OptNum = Num.optional();

export const ForwardBackwardResult = z.object({
  loss: Num,
  n_sequences: z.number().int(),
  n_tokens: z.number().int(),
  entropy: OptNum,
  kl: OptNum,
  clip_fraction: OptNum,
  logprobs: z.array(z.array(z.number())).optional(),
});
export type ForwardBackwardResult = z.infer<typeof ForwardBackwardResult>;

export const OptimStepResult = z.object({ step: z.number().int(), grad_norm: Num, skipped: z.boolean() });
export type OptimStepResult = z.infer<typeof OptimStepResult>;

export const SaveResult = z.object({
  path: z.string(),
  files: z.array(z.object({ name: z.string(), bytes: z.number() })),
});
export type SaveResult = z.infer<typeof SaveResult>;

export const ShutdownResult = z.object({}).passthrough();

export type ChatMessage = { role: string; content: string };

export type LoraConfig = { rank: number; alpha: number; dropout: number; target_modules: string[] | "all-linear" };

export type InitArgs = {
  model_path: string;
  lora: LoraConfig | null;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  seed: number;
  device: "auto" | "cpu" | "cuda";
  dtype: "auto" | "float32" | "bfloat16";
  kl_coef: number;
  resume: { path: string } | null;
};

export type SampleArgs = {
  prompts: { messages: ChatMessage[] }[];
  n: number;
  temperature: number;
  top_p: number;
  max_tokens: number;
  stop: string[];
  seed?: number;
};

export type RlSequence = {
  prompt_token_ids: number[];
  completion_token_ids: number[];
  sampling_logprobs: number[];
  advantage: number;
};

export type ForwardBackwardArgs =
  | {
      loss: "cross_entropy";
      sequences: ({ messages: ChatMessage[] } | { prompt_token_ids: number[]; completion_token_ids: number[] })[];
    }
  | {
      loss: "importance_sampling" | "ppo";
      sequences: RlSequence[];
      clip_epsilon?: number;
      kl_coef?: number;
      /** The sampling temperature: the sampler's log-probs were taken at it, so the ratio must be too. */
      temperature?: number;
      loss_aggregation?: "token_mean" | "sequence_mean";
      return_logprobs?: boolean;
    };
