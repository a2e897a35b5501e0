/**
 * The leaf graders (every type but multi): render templates, compute or ask a port, return a GraderResult.
 * Failures are values (reward 0, typed error); nothing here throws for a grading failure.
 */
import { LOCAL_METRICS, type LocalMetric, meteor } from "./metrics/index.ts";
import type { ChatMessage, GraderContext } from "./ports.ts";
import { addUsage, failure, type GraderResult, success, type TokenUsage } from "./result.ts";
import type {
  EvalItem,
  LabelModelGrader,
  PythonGrader,
  ScoreModelGrader,
  StringCheckGrader,
  SubGrader,
  TextSimilarityGrader,
} from "./schema.ts";
import { stringCheck } from "./string-check.ts";
import { render, type TemplateScope } from "./template.ts";

export interface LeafOptions {
  signal?: AbortSignal;
  /** Wall-clock budget, passed to the python runner (the caller enforces it for the other types). */
  timeoutMs?: number;
}

class TemplateFailure {
  constructor(
    readonly path: string,
    readonly message: string,
  ) {}
}

function renderOrThrow(template: string, scope: TemplateScope): string {
  const r = render(template, scope);
  if (!r.ok) throw new TemplateFailure(r.path, r.message);
  return r.value;
}

export async function gradeLeaf(
  grader: SubGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  opts: LeafOptions,
): Promise<GraderResult> {
  if (isLocal(grader)) return gradeLocal(grader, scope, ctx);
  const startedAt = Date.now();
  try {
    switch (grader.type) {
      case "text_similarity":
        return await cosineSimilarity(grader, scope, ctx, opts, startedAt);
      case "score_model":
      case "label_model":
        return await modelGrader(grader, scope, ctx, opts, startedAt);
      case "python":
        return await pythonGrader(grader, scope, ctx, opts, startedAt);
    }
  } catch (err) {
    return caught(grader, err, startedAt);
  }
}

function caught(grader: SubGrader, err: unknown, startedAt: number): GraderResult {
  if (err instanceof TemplateFailure)
    return failure(grader, { code: "invalid_variable", message: err.message }, startedAt);
  return failure(grader, { code: "other", message: `internal grader error: ${(err as Error).message}` }, startedAt);
}

/** A grader computed here, synchronously: string_check, and text_similarity but for cosine (an embeddings port). */
export type LocalGrader = StringCheckGrader | (TextSimilarityGrader & { evaluation_metric: LocalMetric });

export function isLocal(grader: SubGrader): grader is LocalGrader {
  return grader.type === "string_check" || (grader.type === "text_similarity" && grader.evaluation_metric !== "cosine");
}

/**
 * A local grader's result, synchronously: what `gradeLeaf` returns for it, without a promise per grading (gradeBatch
 * runs thousands of these in a loop, where the async frames and their microtasks cost as much as a short text's
 * metric).
 */
export function gradeLocal(grader: LocalGrader, scope: TemplateScope, ctx: GraderContext): GraderResult {
  const startedAt = Date.now();
  try {
    const input = renderOrThrow(grader.input, scope);
    const reference = renderOrThrow(grader.reference, scope);
    if (grader.type === "string_check")
      return success(grader, stringCheck(grader.operation, input, reference), startedAt);
    const score =
      grader.evaluation_metric === "meteor" // the one local metric with a port: WordNet synonyms, when configured
        ? meteor(input, reference, ctx.wordnet)
        : LOCAL_METRICS[grader.evaluation_metric](input, reference);
    return success(grader, score, startedAt, { scores: passed(grader, score), token_usage: null });
  } catch (err) {
    return caught(grader, err, startedAt);
  }
}

function passed(grader: TextSimilarityGrader, score: number): Record<string, unknown> {
  return grader.pass_threshold === undefined ? {} : { passed: score >= grader.pass_threshold };
}

/** text_similarity with `cosine`: the two texts' embeddings from the configured port. */
async function cosineSimilarity(
  grader: TextSimilarityGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  opts: LeafOptions,
  startedAt: number,
): Promise<GraderResult> {
  const input = renderOrThrow(grader.input, scope);
  const reference = renderOrThrow(grader.reference, scope);
  if (!ctx.embeddings)
    return failure(
      grader,
      { code: "unsupported", message: "cosine needs an embeddings endpoint, and none is configured" },
      startedAt,
    );
  const model = ctx.embeddingModel ?? "text-embedding-3-large";
  const r = await ctx.embeddings.embed(model, [input, reference], opts.signal ? { signal: opts.signal } : {});
  if (!r.ok) return failure(grader, { code: "embeddings_error", message: r.message }, startedAt);
  const score = cosine(r.vectors[0]!, r.vectors[1]!);
  return success(grader, score, startedAt, { scores: passed(grader, score), token_usage: r.usage });
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** EvalItem → chat message; all-text content collapses to one string (what every compatible server accepts). */
function toChatMessage(item: EvalItem, scope: TemplateScope): ChatMessage {
  const items = Array.isArray(item.content) ? item.content : [item.content];
  const parts: Array<Record<string, unknown>> = items.map((c): Record<string, unknown> => {
    if (typeof c === "string") return { type: "text", text: renderOrThrow(c, scope) };
    switch (c.type) {
      case "input_text":
      case "output_text":
        return { type: "text", text: renderOrThrow(c.text, scope) };
      case "input_image":
        return {
          type: "image_url",
          image_url: { url: renderOrThrow(c.image_url, scope), ...(c.detail ? { detail: c.detail } : {}) },
        };
      default:
        return {
          type: "input_audio",
          input_audio: { data: renderOrThrow(c.input_audio.data, scope), format: c.input_audio.format },
        };
    }
  });
  const allText = parts.every((p) => p.type === "text");
  return { role: item.role, content: allText ? parts.map((p) => p.text as string).join("\n") : parts };
}

const STEPS = {
  type: "array",
  items: {
    type: "object",
    properties: { description: { type: "string" }, conclusion: { type: "string" } },
    required: ["description", "conclusion"],
    additionalProperties: false,
  },
};

function responseFormat(grader: ScoreModelGrader | LabelModelGrader): Record<string, unknown> {
  const result = grader.type === "score_model" ? { type: "number" } : { type: "string", enum: grader.labels };
  return {
    type: "json_schema",
    json_schema: {
      name: grader.type === "score_model" ? "score_model_result" : "label_model_result",
      strict: true,
      schema: {
        type: "object",
        properties: { steps: STEPS, result },
        required: ["steps", "result"],
        additionalProperties: false,
      },
    },
  };
}

/** The `result` of the model's answer: the structured-output JSON, or a bare value from servers without it. */
function parseResult(content: string): unknown {
  const text = content.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, "$1");
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed) && "result" in parsed)
      return (parsed as { result: unknown }).result;
    return parsed;
  } catch {
    return text;
  }
}

async function modelGrader(
  grader: ScoreModelGrader | LabelModelGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  opts: LeafOptions,
  startedAt: number,
): Promise<GraderResult> {
  const messages = grader.input.map((m) => toChatMessage(m, scope));
  if (!ctx.chat)
    return failure(grader, { code: "model_server", message: "no grader model endpoint is configured" }, startedAt);
  const sp = grader.type === "score_model" ? grader.sampling_params : undefined;
  const r = await ctx.chat.complete(
    {
      model: grader.model,
      messages,
      response_format: responseFormat(grader),
      ...(sp?.temperature != null ? { temperature: sp.temperature } : {}),
      ...(sp?.top_p != null ? { top_p: sp.top_p } : {}),
      ...(sp?.seed != null ? { seed: sp.seed } : {}),
      ...(sp?.max_completions_tokens != null ? { max_completion_tokens: sp.max_completions_tokens } : {}),
      ...(sp?.reasoning_effort != null ? { reasoning_effort: sp.reasoning_effort } : {}),
    },
    opts.signal ? { signal: opts.signal } : {},
  );
  if (!r.ok)
    return failure(grader, { code: r.kind === "timeout" ? "timeout" : "model_server", message: r.message }, startedAt);
  const perModel: Record<string, TokenUsage> = {};
  if (r.usage) addUsage(perModel, r.model, r.usage);
  const usageExtra = {
    token_usage: r.usage,
    sampled_model_name: r.model,
    model_grader_token_usage_per_model: perModel,
  };
  if (r.refusal) return failure(grader, { code: "model_refusal", message: r.refusal }, startedAt, usageExtra);
  if (r.content === null)
    return failure(
      grader,
      { code: "model_parse", message: "the grader model returned no content" },
      startedAt,
      usageExtra,
    );
  const result = parseResult(r.content);
  if (grader.type === "score_model") {
    const value =
      typeof result === "number"
        ? result
        : typeof result === "string" && result.trim() !== ""
          ? Number(result)
          : Number.NaN;
    if (!Number.isFinite(value)) {
      return failure(
        grader,
        { code: "model_parse", message: `the grader model's answer has no numeric result: ${r.content.slice(0, 200)}` },
        startedAt,
        usageExtra,
      );
    }
    const [lo, hi] = grader.range ?? [0, 1];
    return success(grader, Math.min(hi, Math.max(lo, value)), startedAt, { ...usageExtra, scores: { result: value } });
  }
  const label = typeof result === "string" ? result.trim() : null;
  const match =
    label === null
      ? undefined
      : (grader.labels.find((l) => l === label) ?? grader.labels.find((l) => l.toLowerCase() === label.toLowerCase()));
  if (match === undefined) {
    return failure(
      grader,
      {
        code: "model_parse",
        message: `the grader model's answer is not one of the labels: ${r.content.slice(0, 200)}`,
      },
      startedAt,
      usageExtra,
    );
  }
  return success(grader, grader.passing_labels.includes(match) ? 1 : 0, startedAt, {
    ...usageExtra,
    scores: { label: match },
  });
}

async function pythonGrader(
  grader: PythonGrader,
  scope: TemplateScope,
  ctx: GraderContext,
  opts: LeafOptions,
  startedAt: number,
): Promise<GraderResult> {
  if (!ctx.python)
    return failure(grader, { code: "python_server", message: "no python runner is configured" }, startedAt);
  const s = scope.sample;
  // The sample dict OpenAI documents for python graders.
  const sample = {
    output_text: s.output_text,
    output_json: s.output_json ?? {},
    output_tools: s.output_tools ?? [],
    choices: s.choices ?? [],
    output_audio: {},
  };
  const r = await ctx.python.run(
    {
      source: grader.source,
      sample,
      item: scope.item,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    },
    opts.signal ? { signal: opts.signal } : {},
  );
  if (r.ok) return success(grader, r.value, startedAt);
  const code = r.kind === "runtime" ? "python_runtime" : r.kind === "timeout" ? "python_timeout" : "python_server";
  return failure(grader, { code, message: r.message }, startedAt);
}
