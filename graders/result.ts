/**
 * The result of one grading, in the shape of OpenAI's `RunGraderResponse` (openai-openapi), plus one typed error
 * (`metadata.error`) so a caller can tell failures apart without reading the flags. A failed grading is a value:
 * reward 0, the matching OpenAI error flag set, and the error.
 */

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
}

export interface GraderErrorFlags {
  formula_parse_error: boolean;
  sample_parse_error: boolean;
  truncated_observation_error: boolean;
  unresponsive_reward_error: boolean;
  invalid_variable_error: boolean;
  other_error: boolean;
  python_grader_server_error: boolean;
  python_grader_server_error_type: string | null;
  python_grader_runtime_error: boolean;
  python_grader_runtime_error_details: string | null;
  model_grader_server_error: boolean;
  model_grader_refusal_error: boolean;
  model_grader_parse_error: boolean;
  model_grader_server_error_details: string | null;
}

/** What went wrong, one code per kind of failure; each maps onto one OpenAI flag (see `flagsFor`). */
export type GraderErrorCode =
  | "invalid_variable"
  | "formula_parse"
  | "formula_eval"
  | "sample_parse"
  | "timeout"
  | "python_runtime"
  | "python_timeout"
  | "python_server"
  | "model_server"
  | "model_refusal"
  | "model_parse"
  | "embeddings_error"
  | "unsupported"
  | "other";

export interface GraderError {
  code: GraderErrorCode;
  message: string;
  /** The grader (multi: the sub-grader key path) that failed. */
  grader?: string;
}

export interface GraderResultMetadata {
  name: string;
  type: string;
  errors: GraderErrorFlags;
  /** Seconds. */
  execution_time: number;
  scores: Record<string, unknown>;
  token_usage: TokenUsage | null;
  sampled_model_name: string | null;
  /** The first failure, typed; null when grading succeeded. */
  error: GraderError | null;
}

export interface GraderResult {
  reward: number;
  metadata: GraderResultMetadata;
  sub_rewards: Record<string, number>;
  model_grader_token_usage_per_model: Record<string, TokenUsage>;
}

export function noErrors(): GraderErrorFlags {
  return {
    formula_parse_error: false,
    sample_parse_error: false,
    truncated_observation_error: false,
    unresponsive_reward_error: false,
    invalid_variable_error: false,
    other_error: false,
    python_grader_server_error: false,
    python_grader_server_error_type: null,
    python_grader_runtime_error: false,
    python_grader_runtime_error_details: null,
    model_grader_server_error: false,
    model_grader_refusal_error: false,
    model_grader_parse_error: false,
    model_grader_server_error_details: null,
  };
}

/** Sets the OpenAI flag(s) for an error on `flags`. */
export function setFlags(flags: GraderErrorFlags, error: GraderError): void {
  switch (error.code) {
    case "invalid_variable":
      flags.invalid_variable_error = true;
      break;
    case "formula_parse":
      flags.formula_parse_error = true;
      break;
    case "sample_parse":
      flags.sample_parse_error = true;
      break;
    case "timeout":
      flags.unresponsive_reward_error = true;
      break;
    case "python_runtime":
      flags.python_grader_runtime_error = true;
      flags.python_grader_runtime_error_details = error.message;
      break;
    case "python_timeout":
      flags.unresponsive_reward_error = true;
      flags.python_grader_runtime_error = true;
      flags.python_grader_runtime_error_details = error.message;
      break;
    case "python_server":
      flags.python_grader_server_error = true;
      flags.python_grader_server_error_type = error.message;
      break;
    case "model_server":
      flags.model_grader_server_error = true;
      flags.model_grader_server_error_details = error.message;
      break;
    case "model_refusal":
      flags.model_grader_refusal_error = true;
      break;
    case "model_parse":
      flags.model_grader_parse_error = true;
      break;
    default:
      flags.other_error = true;
  }
}

export function addUsage(into: Record<string, TokenUsage>, model: string, usage: TokenUsage): void {
  const prev = into[model];
  into[model] = prev
    ? {
        prompt_tokens: prev.prompt_tokens + usage.prompt_tokens,
        completion_tokens: prev.completion_tokens + usage.completion_tokens,
        total_tokens: prev.total_tokens + usage.total_tokens,
        cached_tokens: prev.cached_tokens + usage.cached_tokens,
      }
    : { ...usage };
}

/** A successful result. */
export function success(
  grader: { name: string; type: string },
  reward: number,
  startedAt: number,
  extra: Partial<Pick<GraderResult, "sub_rewards" | "model_grader_token_usage_per_model">> &
    Partial<Pick<GraderResultMetadata, "scores" | "token_usage" | "sampled_model_name">> = {},
): GraderResult {
  return {
    reward,
    metadata: {
      name: grader.name,
      type: grader.type,
      errors: noErrors(),
      execution_time: (Date.now() - startedAt) / 1000,
      scores: extra.scores ?? {},
      token_usage: extra.token_usage ?? null,
      sampled_model_name: extra.sampled_model_name ?? null,
      error: null,
    },
    sub_rewards: extra.sub_rewards ?? {},
    model_grader_token_usage_per_model: extra.model_grader_token_usage_per_model ?? {},
  };
}

/** A failed result: reward 0, the error's flag set. */
export function failure(
  grader: { name: string; type: string },
  error: GraderError,
  startedAt: number,
  extra: Partial<Pick<GraderResult, "model_grader_token_usage_per_model">> &
    Partial<Pick<GraderResultMetadata, "token_usage" | "sampled_model_name">> = {},
): GraderResult {
  const result = success(grader, 0, startedAt, extra);
  setFlags(result.metadata.errors, error);
  result.metadata.error = error;
  return result;
}
