import type { CreateJobRequest } from "../schemas/jobs.ts";

type Method = NonNullable<CreateJobRequest["method"]>;
type RlHp = NonNullable<NonNullable<Method["reinforcement"]>["hyperparameters"]>;
type SftHp = NonNullable<NonNullable<Method["supervised"]>["hyperparameters"]>;

/** Learning rates that `learning_rate_multiplier` scales: LoRA adapters tolerate far larger steps than full weights. */
export const BASE_LEARNING_RATE = { lora: 2e-3, full: 1e-4 } as const;

/** Completion budget per `reasoning_effort` when `max_completion_tokens` is auto. */
const MAX_TOKENS_BY_EFFORT = { default: 256, low: 128, medium: 256, high: 1024 } as const;

const pick = <T>(value: T | "auto" | undefined, fallback: T): T =>
  value === undefined || value === "auto" ? fallback : value;

/**
 * What `"auto"` becomes for a dataset of `nTrain` examples: the numbers the runner uses (the supervisor's
 * hyperparameter shape), plus the step count. The job keeps echoing `"auto"` to clients, as OpenAI does.
 */
export function resolveHyperparameters(
  type: "reinforcement" | "supervised",
  hp: RlHp | SftHp,
  data: { nTrain: number; nValid: number; seed: number },
) {
  const rl = hp as RlHp;
  const batch = Math.min(pick(hp.batch_size, 8), data.nTrain);
  const epochs = pick(hp.n_epochs, type === "reinforcement" ? 1 : 3);
  const totalSteps = Math.ceil(data.nTrain / batch) * epochs;
  const loraRank = pick(rl.lora_rank, 16);
  const lora =
    loraRank > 0 ? { rank: loraRank, alpha: 2 * loraRank, dropout: 0, target_modules: "all-linear" as const } : null;
  const lr = (lora ? BASE_LEARNING_RATE.lora : BASE_LEARNING_RATE.full) * pick(hp.learning_rate_multiplier, 1);
  const evalInterval = pick(rl.eval_interval, Math.max(1, Math.ceil(totalSteps / 10)));
  const effort = rl.reasoning_effort ?? "default";
  return {
    n_epochs: epochs,
    batch_size: batch,
    n: pick(rl.group_size, Math.min(64, Math.max(2, Math.round(4 * pick(rl.compute_multiplier, 1))))),
    learning_rate: lr,
    eval_interval: evalInterval,
    eval_samples: rl.eval_samples === undefined || rl.eval_samples === "auto" ? null : rl.eval_samples,
    checkpoint_interval: pick(rl.checkpoint_interval, evalInterval),
    max_tokens: pick(rl.max_completion_tokens, MAX_TOKENS_BY_EFFORT[effort]),
    temperature: pick(rl.temperature, 1),
    lora,
    seed: data.seed,
    total_steps: totalSteps,
    n_train: data.nTrain,
    n_valid: data.nValid,
  };
}
export type ResolvedHyperparameters = ReturnType<typeof resolveHyperparameters>;

/** The method as echoed to clients: every OpenAI hyperparameter present, `"auto"` where not given. */
export function echoMethod(method: Method): Record<string, unknown> {
  if (method.type === "supervised") {
    const hp = method.supervised?.hyperparameters ?? {};
    return {
      type: "supervised",
      supervised: {
        hyperparameters: { batch_size: "auto", learning_rate_multiplier: "auto", n_epochs: "auto", ...hp },
      },
    };
  }
  const r = method.reinforcement!;
  return {
    type: "reinforcement",
    reinforcement: {
      grader: r.grader,
      hyperparameters: {
        batch_size: "auto",
        learning_rate_multiplier: "auto",
        n_epochs: "auto",
        eval_interval: "auto",
        eval_samples: "auto",
        compute_multiplier: "auto",
        reasoning_effort: "default",
        ...(r.hyperparameters ?? {}),
      },
      response_format: r.response_format ?? null,
    },
  };
}
