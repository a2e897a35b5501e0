/**
 * runGrader: one grading of one sample against one dataset item. Never throws for a grading failure: the result
 * carries reward 0, the OpenAI error flag and a typed `metadata.error`.
 */
import { evaluateFormula, parseFormula } from "./formula.ts";
import { gradeLeaf } from "./leaf.ts";
import type { GraderContext } from "./ports.ts";
import {
  addUsage,
  failure,
  type GraderError,
  type GraderResult,
  noErrors,
  setFlags,
  success,
  type TokenUsage,
} from "./result.ts";
import type { Grader, GraderType, MultiGrader, SubGrader } from "./schema.ts";
import type { Sample, TemplateScope } from "./template.ts";

export interface GradeInput {
  sample: Sample;
  item?: Record<string, unknown>;
}

/** Bounds how many gradings of each leaf type run at once (shared by a batch; see gradeBatch). */
export interface Limiter {
  run<T>(type: GraderType, task: () => Promise<T>): Promise<T>;
}

export interface RunOptions {
  /** Wall-clock budget for the whole grading; past it the result is a timeout error (reward 0). */
  timeoutMs?: number;
  signal?: AbortSignal;
  limiter?: Limiter;
}

const direct: Limiter = { run: (_type, task) => task() };

/** Grades one sample. */
export async function runGrader(
  grader: Grader,
  input: GradeInput,
  ctx: GraderContext,
  options: RunOptions = {},
): Promise<GraderResult> {
  const startedAt = Date.now();
  const scope: TemplateScope = { sample: input.sample, item: input.item ?? {} };
  const limiter = options.limiter ?? direct;
  try {
    if (grader.type === "multi") return await gradeMulti(grader, scope, ctx, limiter, options);
    return await limiter.run(grader.type, () => leafWithTimeout(grader, scope, ctx, options));
  } catch (err) {
    return failure(grader, { code: "other", message: `internal grader error: ${(err as Error).message}` }, startedAt);
  }
}

/**
 * One leaf grading under the wall-clock budget, which starts when the grading does (not while it waits for a
 * concurrency slot). Past the budget the grading is aborted and the result is a timeout.
 */
async function leafWithTimeout(
  grader: SubGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  options: RunOptions,
): Promise<GraderResult> {
  const { timeoutMs } = options;
  if (timeoutMs === undefined) return gradeLeaf(grader, scope, ctx, options.signal ? { signal: options.signal } : {});
  const startedAt = Date.now();
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<GraderResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      const code = grader.type === "python" ? "python_timeout" : "timeout";
      resolve(failure(grader, { code, message: `grading took longer than ${timeoutMs} ms` }, startedAt));
    }, timeoutMs);
  });
  try {
    return await Promise.race([gradeLeaf(grader, scope, ctx, { signal, timeoutMs }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function gradeMulti(
  grader: MultiGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  limiter: Limiter,
  options: RunOptions,
): Promise<GraderResult> {
  const startedAt = Date.now();
  const keys = Object.keys(grader.graders);
  const parsed = parseFormula(grader.calculate_output, new Set(keys));
  if (!parsed.ok) return failure(grader, { code: "formula_parse", message: parsed.message }, startedAt);
  const results = await Promise.all(
    keys.map((key) => {
      const sub = grader.graders[key] as SubGrader;
      return limiter.run(sub.type, () => leafWithTimeout(sub, scope, ctx, options));
    }),
  );
  const errors = noErrors();
  const subRewards: Record<string, number> = {};
  const perModel: Record<string, TokenUsage> = {};
  let firstError: GraderError | null = null;
  let sampledModel: string | null = null;
  results.forEach((r, i) => {
    const key = keys[i]!;
    subRewards[key] = r.reward;
    for (const [model, usage] of Object.entries(r.model_grader_token_usage_per_model)) addUsage(perModel, model, usage);
    sampledModel ??= r.metadata.sampled_model_name;
    if (r.metadata.error) {
      setFlags(errors, r.metadata.error);
      firstError ??= { ...r.metadata.error, grader: key };
    }
  });
  const totalUsage = sumUsage(Object.values(perModel));
  const extra = {
    sub_rewards: subRewards,
    scores: { ...subRewards },
    model_grader_token_usage_per_model: perModel,
    token_usage: totalUsage,
    sampled_model_name: sampledModel,
  };
  let result: GraderResult;
  if (firstError) {
    // A sub-grader failed: the formula is not computed on a made-up 0; the whole grading is a failure.
    result = success(grader, 0, startedAt, extra);
    result.metadata.errors = errors;
    result.metadata.error = firstError;
    return result;
  }
  const value = evaluateFormula(parsed.formula, subRewards);
  if (!value.ok) {
    result = success(grader, 0, startedAt, extra);
    const error: GraderError = { code: "formula_eval", message: value.message };
    setFlags(result.metadata.errors, error);
    result.metadata.error = error;
    return result;
  }
  return success(grader, value.value, startedAt, extra);
}

function sumUsage(list: TokenUsage[]): TokenUsage | null {
  if (list.length === 0) return null;
  return list.reduce((a, u) => ({
    prompt_tokens: a.prompt_tokens + u.prompt_tokens,
    completion_tokens: a.completion_tokens + u.completion_tokens,
    total_tokens: a.total_tokens + u.total_tokens,
    cached_tokens: a.cached_tokens + u.cached_tokens,
  }));
}
