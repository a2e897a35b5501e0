/**
 * The graders library: OpenAI's grader types (string_check, text_similarity, score_model, label_model, python,
 * multi) for /graders/run, /graders/validate, job creation and the runner's RL loop. Web-standard code only; the
 * Node-only adapters (python sandbox) live in files named `*.node.ts` and `node.ts`.
 */
export { type BatchOptions, createLimiter, DEFAULT_CONCURRENCY, gradeBatch } from "./batch.ts";
export { type EvalResult, evaluateFormula, type Formula, type ParseResult, parseFormula } from "./formula.ts";
export { LOCAL_METRICS, type LocalMetric } from "./metrics/index.ts";
export { type EndpointOptions, openAICompatibleChat, openAICompatibleEmbeddings } from "./openai-compatible.ts";
export type {
  ChatMessage,
  ChatModel,
  ChatOutcome,
  ChatRequest,
  Embeddings,
  EmbedOutcome,
  GraderContext,
  PythonOutcome,
  PythonRunner,
  PythonRunRequest,
} from "./ports.ts";
export type {
  GraderError,
  GraderErrorCode,
  GraderErrorFlags,
  GraderResult,
  GraderResultMetadata,
  TokenUsage,
} from "./result.ts";
export { type GradeInput, type Limiter, type RunOptions, runGrader } from "./run.ts";
export {
  EVALUATION_METRICS,
  EvalItem,
  Grader,
  type GraderType,
  LabelModelGrader,
  MultiGrader,
  PythonGrader,
  ScoreModelGrader,
  StringCheckGrader,
  SubGrader,
  TextSimilarityGrader,
} from "./schema.ts";
export { checkTemplate, render, type Sample, sampleFromText, type TemplateScope } from "./template.ts";
export { type ValidateResult, validateGrader } from "./validate.ts";
