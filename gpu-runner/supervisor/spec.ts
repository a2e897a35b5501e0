import { z } from "zod";

/**
 * The run spec: everything one run of the supervisor needs. In folder mode it is read from a JSON file;
 * over the runner protocol the control plane serves the same shape.
 */

export const LoraSpec = z.object({
  rank: z.number().int().positive().default(16),
  alpha: z.number().positive().default(32),
  dropout: z.number().min(0).max(1).default(0),
  target_modules: z.union([z.array(z.string()).min(1), z.literal("all-linear")]).default("all-linear"),
});
export type LoraSpec = z.infer<typeof LoraSpec>;

export const Hyperparameters = z
  .object({
    n_epochs: z.number().int().positive().default(1),
    /** Prompts per step (reinforcement) or examples per step (supervised). */
    batch_size: z.number().int().positive().default(8),
    /** Group size: samples per prompt. Also accepted as `samples_per_prompt`. */
    n: z.number().int().positive().optional(),
    samples_per_prompt: z.number().int().positive().optional(),
    learning_rate: z.number().positive().default(1e-5),
    /** Evaluate on the validation file every this many steps (0: only before the first and after the last). */
    eval_interval: z.number().int().nonnegative().default(10),
    /** How many validation items each evaluation grades (the first N of the file); null: all of them. */
    eval_samples: z.number().int().positive().nullable().default(null),
    /** Save a checkpoint every this many steps (0: only at the end). */
    checkpoint_interval: z.number().int().nonnegative().default(50),
    max_tokens: z.number().int().positive().default(256),
    temperature: z.number().positive().default(1),
    top_p: z.number().positive().max(1).default(1),
    stop: z.array(z.string()).default([]),
    /** LoRA settings; null trains every weight. */
    lora: LoraSpec.nullable().default({ rank: 16, alpha: 32, dropout: 0, target_modules: "all-linear" }),
    kl_coef: z.number().nonnegative().default(0),
    loss: z.enum(["importance_sampling", "ppo"]).default("importance_sampling"),
    clip_epsilon: z.number().positive().default(0.2),
    max_grad_norm: z.number().positive().default(1),
    weight_decay: z.number().nonnegative().default(0),
    /** Divide advantages by the group std (GRPO); false keeps them only mean-centred (Dr. GRPO). */
    normalize_advantages: z.boolean().default(true),
    seed: z.number().int().nonnegative().default(0),
  })
  .superRefine((h, ctx) => {
    if (h.n !== undefined && h.samples_per_prompt !== undefined && h.n !== h.samples_per_prompt) {
      ctx.addIssue({
        code: "custom",
        path: ["samples_per_prompt"],
        message: `n (${h.n}) and samples_per_prompt (${h.samples_per_prompt}) name the same setting and differ`,
      });
    }
  })
  .transform(({ samples_per_prompt, n, ...rest }) => ({ ...rest, n: n ?? samples_per_prompt ?? 8 }));
export type Hyperparameters = z.infer<typeof Hyperparameters>;

export const GraderSpec = z.looseObject({ type: z.string() });
export type GraderSpec = z.infer<typeof GraderSpec>;

export const MethodSpec = z.object({
  type: z.enum(["reinforcement", "supervised"]),
  hyperparameters: Hyperparameters.default(Hyperparameters.parse({})),
});
export type MethodSpec = z.infer<typeof MethodSpec>;

export const RuntimeSpec = z.object({
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  dtype: z.enum(["auto", "float32", "bfloat16"]).default("auto"),
  /** A grader call that takes longer than this gets reward 0 and counts as an error. */
  grader_timeout_ms: z.number().int().positive().default(30_000),
  grader_concurrency: z.number().int().positive().default(16),
  /** Prompts per engine `sample` call during evaluation. */
  eval_batch_size: z.number().int().positive().default(64),
  /**
   * What a pause does between steps: `wait` in place (engine and machine held) until continue or cancel, or `exit`:
   * save a checkpoint of the step just finished, report it, end the run with status `paused` and free the machine
   * (a platform run; the control plane starts a new run from that checkpoint on resume).
   */
  on_pause: z.enum(["wait", "exit"]).default("wait"),
  /** Milliseconds between heartbeats while paused in place. */
  pause_poll_ms: z.number().int().positive().default(1000),
  /** Fail the run after this many steps in a row with a non-finite loss. */
  max_consecutive_nan_steps: z.number().int().positive().default(3),
  /**
   * Stop early, as a success, once another step would end past this many seconds of training (measured
   * from the first step; the final evaluation and checkpoint come after it). null: no limit.
   */
  max_duration_s: z.number().positive().nullable().default(null),
  /** Heartbeat this often during a step too, so a long step is not mistaken for a dead runner. */
  heartbeat_interval_ms: z.number().int().positive().default(30_000),
  /** Keep only the newest N checkpoints on local disk (they are large); null keeps all. */
  keep_checkpoints: z.number().int().positive().nullable().default(3),
  /** Also write merged weights with every checkpoint (needed to start a new run from it). */
  save_merged: z.boolean().default(true),
  /**
   * Export the model to ONNX (with a KV cache) at the final checkpoint, at every checkpoint, or never. Folder mode
   * defaults to never (an export costs ~20 s of CPU even for a tiny model); platform runs ask for `final`.
   */
  export_onnx: z.enum(["final", "every", "never"]).default("never"),
});
export type RuntimeSpec = z.infer<typeof RuntimeSpec>;

export const RunSpec = z
  .object({
    /** A Hugging Face model folder (or the `merged/` folder of an earlier run's checkpoint). */
    model: z.string().min(1),
    training_file: z.string().min(1),
    validation_file: z.string().min(1).nullable().default(null),
    grader: GraderSpec.nullable().default(null),
    method: MethodSpec,
    output_dir: z.string().min(1),
    /**
     * `auto`: continue from the newest complete checkpoint in output_dir if there is one;
     * `never`: refuse to start over an output_dir that already holds checkpoints.
     */
    resume: z.enum(["auto", "never"]).default("auto"),
    runtime: RuntimeSpec.default(RuntimeSpec.parse({})),
  })
  .superRefine((spec, ctx) => {
    if (spec.method.type === "reinforcement" && spec.grader === null) {
      ctx.addIssue({ code: "custom", path: ["grader"], message: "a reinforcement run needs a grader" });
    }
  });
export type RunSpec = z.infer<typeof RunSpec>;
export type RunSpecInput = z.input<typeof RunSpec>;

/** Parses a spec, or throws one message naming the first bad field. */
export function parseSpec(input: unknown): RunSpec {
  const r = RunSpec.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new Error(`invalid run spec: ${lines.join("; ")}`);
}
