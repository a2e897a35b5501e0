import { z } from "zod";
import { batchAdvantages } from "./advantages.ts";
import { mixSeed } from "./data.ts";
import { type EngineClient, EngineOpError } from "./engine-client.ts";
import type { ChatMessage, ForwardBackwardArgs, ForwardBackwardResult, RlSequence } from "./engine-schemas.ts";
import { gradeSamples, type Item, type RewardFn } from "./reward.ts";
import type { Hyperparameters, RuntimeSpec } from "./spec.ts";

/** The engine operations the loop uses (EngineClient implements them). */
export type Engine = Pick<EngineClient, "sample" | "forwardBackward" | "optimStep" | "save">;

const Messages = z.array(z.object({ role: z.string().min(1), content: z.string() })).min(1);

/** The chat messages of a dataset item, or an error naming the file line. */
export function messagesOf(item: Item, where: string): ChatMessage[] {
  const r = Messages.safeParse(item.messages);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: 'messages${issue?.path.length ? `.${issue.path.join(".")}` : ""}': ${issue?.message}`);
  }
  return r.data;
}

/** What a step measured; `nonFinite` marks a step whose loss was NaN or infinite. */
export type StepOutcome = {
  trainRewardMean?: number;
  loss?: number;
  kl?: number;
  entropy?: number;
  clipFraction?: number;
  gradNorm?: number;
  meanResponseLength?: number;
  fracZeroVariance?: number;
  graderErrors?: number;
  graderErrorMessages?: string[];
  timeSample: number;
  timeGrade: number;
  timeTrain: number;
  tokens: number;
  skipped: boolean;
  skipReason?: "non_finite_loss" | "no_learning_signal";
  nonFinite: boolean;
};

const seconds = (t0: number) => (performance.now() - t0) / 1000;

function distinct(messages: (string | undefined)[], max: number): string[] {
  return [...new Set(messages.filter((m): m is string => m !== undefined))].slice(0, max);
}

/**
 * forward_backward, with a non-finite loss (the engine's `nan_loss` error) read as a value: the engine has
 * then discarded the gradients and will skip the next optim_step.
 */
async function forwardBackward(engine: Engine, args: ForwardBackwardArgs): Promise<ForwardBackwardResult> {
  try {
    return await engine.forwardBackward(args);
  } catch (err) {
    if (err instanceof EngineOpError && err.type === "nan_loss") {
      return { loss: Number.NaN, n_sequences: args.sequences.length, n_tokens: 0 };
    }
    throw err;
  }
}

/** Applies the accumulated gradients; reports a non-finite loss or gradient as a skipped step. */
async function applyStep(
  engine: Engine,
  fb: ForwardBackwardResult,
  hp: Hyperparameters,
): Promise<{ gradNorm: number; skipped: boolean; nonFinite: boolean }> {
  // Always call optim_step: it also zeroes the gradients, and it skips non-finite ones itself.
  const opt = await engine.optimStep({ learning_rate: hp.learning_rate, max_grad_norm: hp.max_grad_norm });
  const nonFinite = !Number.isFinite(fb.loss) || opt.skipped;
  return { gradNorm: opt.grad_norm, skipped: opt.skipped || nonFinite, nonFinite };
}

/**
 * One reinforcement step: n samples per prompt, rewards (each sample with its own timeout), group-relative
 * advantages, one forward_backward over the groups that carry a signal, one optim_step.
 */
export async function reinforcementStep(
  engine: Engine,
  rewardFn: RewardFn,
  items: Item[],
  lineNumbers: number[],
  step: number,
  hp: Hyperparameters,
  runtime: RuntimeSpec,
  trainingFile: string,
): Promise<StepOutcome> {
  const prompts = items.map((item, i) => ({ messages: messagesOf(item, `${trainingFile} line ${lineNumbers[i]}`) }));

  let t0 = performance.now();
  const sampled = await engine.sample({
    prompts,
    n: hp.n,
    temperature: hp.temperature,
    top_p: hp.top_p,
    max_tokens: hp.max_tokens,
    stop: hp.stop,
    seed: mixSeed(hp.seed, step, 0x5a3),
  });
  const timeSample = seconds(t0);

  t0 = performance.now();
  const flatSamples = sampled.results.flatMap((r) => r.completions.map((c) => ({ output_text: c.text })));
  const flatItems = sampled.results.flatMap((r, p) => r.completions.map(() => items[p]!));
  const graded = await gradeSamples(rewardFn, flatSamples, flatItems, {
    timeoutMs: runtime.grader_timeout_ms,
    concurrency: runtime.grader_concurrency,
  });
  const timeGrade = seconds(t0);

  let k = 0;
  const rewards_PG = sampled.results.map((r) => r.completions.map(() => graded.rewards[k++]!));
  const adv = batchAdvantages(rewards_PG, { normalizeStd: hp.normalize_advantages });
  const allCompletions = sampled.results.flatMap((r) => r.completions);
  const tokens = allCompletions.reduce((s, c) => s + c.token_ids.length, 0);

  const sequences: RlSequence[] = [];
  sampled.results.forEach((r, p) => {
    const g = adv.groups[p]!;
    if (g.zeroVariance) return;
    r.completions.forEach((c, j) => {
      if (c.token_ids.length === 0) return;
      sequences.push({
        prompt_token_ids: r.prompt_token_ids,
        completion_token_ids: c.token_ids,
        sampling_logprobs: c.logprobs,
        advantage: g.advantages_G[j]!,
      });
    });
  });

  const base = {
    trainRewardMean: graded.rewards.length ? graded.rewards.reduce((a, b) => a + b, 0) / graded.rewards.length : 0,
    meanResponseLength: allCompletions.length ? tokens / allCompletions.length : 0,
    fracZeroVariance: adv.fracZeroVariance,
    graderErrors: graded.errorCount,
    graderErrorMessages: distinct(graded.errors, 3),
    timeSample,
    timeGrade,
    tokens,
  };
  if (sequences.length === 0) {
    return { ...base, timeTrain: 0, skipped: true, skipReason: "no_learning_signal", nonFinite: false };
  }

  t0 = performance.now();
  const fb = await forwardBackward(engine, {
    loss: hp.loss,
    sequences,
    clip_epsilon: hp.clip_epsilon,
    kl_coef: hp.kl_coef,
    temperature: hp.temperature,
  });
  const applied = await applyStep(engine, fb, hp);
  return {
    ...base,
    loss: fb.loss,
    ...(fb.kl !== undefined ? { kl: fb.kl } : {}),
    ...(fb.entropy !== undefined ? { entropy: fb.entropy } : {}),
    ...(fb.clip_fraction !== undefined ? { clipFraction: fb.clip_fraction } : {}),
    gradNorm: applied.gradNorm,
    timeTrain: seconds(t0),
    skipped: applied.skipped,
    ...(applied.nonFinite ? { skipReason: "non_finite_loss" as const } : {}),
    nonFinite: applied.nonFinite,
  };
}

/** One supervised step: cross-entropy on the assistant turns of each item's messages. */
export async function supervisedStep(
  engine: Engine,
  items: Item[],
  lineNumbers: number[],
  hp: Hyperparameters,
  trainingFile: string,
): Promise<StepOutcome> {
  const sequences = items.map((item, i) => {
    const where = `${trainingFile} line ${lineNumbers[i]}`;
    const messages = messagesOf(item, where);
    if (!messages.some((m) => m.role === "assistant")) {
      throw new Error(`${where}: a supervised example needs at least one message with role 'assistant' to learn from`);
    }
    return { messages };
  });
  const t0 = performance.now();
  const fb = await forwardBackward(engine, { loss: "cross_entropy", sequences });
  const applied = await applyStep(engine, fb, hp);
  return {
    loss: fb.loss,
    ...(fb.entropy !== undefined ? { entropy: fb.entropy } : {}),
    gradNorm: applied.gradNorm,
    timeSample: 0,
    timeGrade: 0,
    timeTrain: seconds(t0),
    tokens: fb.n_tokens,
    skipped: applied.skipped,
    ...(applied.nonFinite ? { skipReason: "non_finite_loss" as const } : {}),
    nonFinite: applied.nonFinite,
  };
}

export type EvalOutcome = {
  rewardMean: number;
  n: number;
  graderErrors: number;
  seconds: number;
  examples: { prompt: string; output: string; reward: number }[];
};

/**
 * Mean reward on validation items, sampled once each at the training sampling settings. The sampling
 * seed is the same at every evaluation, so successive evaluations differ by the policy, not by the dice.
 */
export async function evaluate(
  engine: Engine,
  rewardFn: RewardFn,
  items: Item[],
  lineNumbers: number[],
  hp: Hyperparameters,
  runtime: RuntimeSpec,
  validationFile: string,
): Promise<EvalOutcome> {
  const t0 = performance.now();
  let sum = 0;
  let errors = 0;
  const examples: EvalOutcome["examples"] = [];
  for (let start = 0; start < items.length; start += runtime.eval_batch_size) {
    const chunk = items.slice(start, start + runtime.eval_batch_size);
    const prompts = chunk.map((item, i) => ({
      messages: messagesOf(item, `${validationFile} line ${lineNumbers[start + i]}`),
    }));
    const sampled = await engine.sample({
      prompts,
      n: 1,
      temperature: hp.temperature,
      top_p: hp.top_p,
      max_tokens: hp.max_tokens,
      stop: hp.stop,
      seed: mixSeed(hp.seed, 0xe7a1, start),
    });
    const outputs = sampled.results.map((r) => r.completions[0]?.text ?? "");
    const graded = await gradeSamples(
      rewardFn,
      outputs.map((o) => ({ output_text: o })),
      chunk,
      { timeoutMs: runtime.grader_timeout_ms, concurrency: runtime.grader_concurrency },
    );
    sum += graded.rewards.reduce((a, b) => a + b, 0);
    errors += graded.errorCount;
    for (let i = 0; i < chunk.length && examples.length < 3; i++) {
      const last = prompts[i]!.messages.at(-1);
      examples.push({ prompt: last?.content ?? "", output: outputs[i]!, reward: graded.rewards[i]! });
    }
  }
  return {
    rewardMean: items.length ? sum / items.length : 0,
    n: items.length,
    graderErrors: errors,
    seconds: seconds(t0),
    examples,
  };
}
