/**
 * A runner's step metrics as a `fine_tuning.job.event` of type `metrics`, shaped like OpenAI's RFT metrics events
 * (`step`, `scores.train_reward_mean`, `scores.valid_reward_mean`, `timing.step.{sampling,training,eval,
 * full_iteration}`, `train_mean_reward`, `full_valid_mean_reward`, `total_steps`), with our extra numbers
 * (loss, kl, entropy, grad norm, zero-variance groups, ...) kept beside them under their own names.
 */
type StepMetrics = {
  step: number;
  total_steps?: number | undefined;
  train_reward_mean?: number | undefined;
  valid_reward_mean?: number | undefined;
  step_time_s?: number | undefined;
  tokens_per_s?: number | undefined;
  trained_tokens?: number | undefined;
  time_sample_s?: number | undefined;
  time_grade_s?: number | undefined;
  time_train_s?: number | undefined;
  time_eval_s?: number | undefined;
  [k: string]: unknown;
};

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Tokens trained on in a step: reported directly, or throughput × time. */
export function tokensOf(m: StepMetrics): number {
  if (num(m.trained_tokens) !== undefined) return Math.round(m.trained_tokens!);
  const rate = num(m.tokens_per_s);
  const time = num(m.step_time_s);
  return rate !== undefined && time !== undefined ? Math.round(rate * time) : 0;
}

export function metricsEventData(m: StepMetrics, jobTotalSteps: number | null): Record<string, unknown> {
  const scores: Record<string, number> = {};
  if (num(m.train_reward_mean) !== undefined) scores.train_reward_mean = m.train_reward_mean!;
  if (num(m.valid_reward_mean) !== undefined) scores.valid_reward_mean = m.valid_reward_mean!;
  const timing: Record<string, number> = {};
  if (num(m.time_sample_s) !== undefined) timing.sampling = m.time_sample_s!;
  if (num(m.time_grade_s) !== undefined) timing.grading = m.time_grade_s!;
  if (num(m.time_train_s) !== undefined) timing.training = m.time_train_s!;
  if (num(m.time_eval_s) !== undefined) timing.eval = m.time_eval_s!;
  if (num(m.step_time_s) !== undefined) timing.full_iteration = m.step_time_s!;
  const { batch_lines: _lines, ...rest } = m;
  return {
    ...rest,
    step: m.step,
    total_steps: m.total_steps ?? jobTotalSteps,
    scores,
    timing: { step: timing },
    ...(scores.train_reward_mean !== undefined ? { train_mean_reward: scores.train_reward_mean } : {}),
    ...(scores.valid_reward_mean !== undefined ? { full_valid_mean_reward: scores.valid_reward_mean } : {}),
    trained_tokens: tokensOf(m),
  };
}

/** `Step 10/20, train mean reward=0.42, full validation mean reward=0.68` (OpenAI's wording). */
export function metricsMessage(m: StepMetrics, jobTotalSteps: number | null): string {
  const total = m.total_steps ?? jobTotalSteps;
  const parts = [`Step ${m.step}${total ? `/${total}` : ""}`];
  if (num(m.train_reward_mean) !== undefined) parts.push(`train mean reward=${m.train_reward_mean!.toFixed(2)}`);
  if (num(m.valid_reward_mean) !== undefined)
    parts.push(`full validation mean reward=${m.valid_reward_mean!.toFixed(2)}`);
  if (num(m.train_loss as number) !== undefined) parts.push(`train loss=${(m.train_loss as number).toFixed(4)}`);
  return parts.join(", ");
}
