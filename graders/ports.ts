/**
 * The ports the model and python graders use. Everything else in graders/ is pure computation. Adapters:
 * `openai-compatible.ts` (chat completions and embeddings over fetch, any runtime) and
 * `python/sandbox.node.ts` (Node only: warm sandboxed interpreters).
 */
import type { Thesaurus } from "./metrics/meteor.ts";
import type { TokenUsage } from "./result.ts";

export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant";
  content: string | Array<Record<string, unknown>>;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** OpenAI `response_format` (json_schema for structured output). */
  response_format?: Record<string, unknown>;
  temperature?: number;
  top_p?: number;
  seed?: number;
  max_completion_tokens?: number;
  reasoning_effort?: string;
}

export type ChatOutcome =
  | { ok: true; content: string | null; refusal: string | null; model: string; usage: TokenUsage | null }
  | { ok: false; kind: "server" | "timeout"; message: string };

/** An OpenAI-compatible chat-completions endpoint (base URL + key from the operator). */
export interface ChatModel {
  complete(request: ChatRequest, options?: { signal?: AbortSignal }): Promise<ChatOutcome>;
}

export type EmbedOutcome = { ok: true; vectors: number[][]; usage: TokenUsage | null } | { ok: false; message: string };

/** An OpenAI-compatible embeddings endpoint, for text_similarity's cosine metric. */
export interface Embeddings {
  embed(model: string, inputs: string[], options?: { signal?: AbortSignal }): Promise<EmbedOutcome>;
}

export type PythonOutcome =
  | { ok: true; value: number }
  | { ok: false; kind: "runtime" | "timeout" | "server"; message: string };

export interface PythonRunRequest {
  source: string;
  sample: unknown;
  item: unknown;
  /** Wall-clock budget for this call; the runner's own default when absent. */
  timeoutMs?: number;
}

/** Runs `grade(sample, item)` from a python grader's source, isolated from the host. */
export interface PythonRunner {
  run(request: PythonRunRequest, options?: { signal?: AbortSignal }): Promise<PythonOutcome>;
  /** How the code is isolated, for operators and logs: "bubblewrap" or a documented weaker mode. */
  readonly isolation: string;
  close?(): Promise<void>;
}

/** The ports bundle every grader gets. A missing port makes the graders that need it fail with a typed error. */
export interface GraderContext {
  chat?: ChatModel;
  embeddings?: Embeddings;
  /** Model used for cosine similarity; OpenAI uses text-embedding-3-large. */
  embeddingModel?: string;
  python?: PythonRunner;
  /** WordNet for meteor's synonym stage (Node: graders/metrics/wordnet/files.node.ts); without it the stage is off. */
  wordnet?: Thesaurus;
  /** Releases what the adapters hold (python workers). */
  close?: () => Promise<void>;
}
