/**
 * Node wiring of the grader ports, from environment variables (parsed once, by zod, with the variable named in any
 * error). The API's Node entry and the runner call `createNodeGraderContext`.
 *
 *   RFT_GRADER_MODEL_BASE_URL     OpenAI-compatible base URL for score_model / label_model (e.g. https://api.openai.com/v1)
 *   RFT_GRADER_MODEL_API_KEY      its key
 *   RFT_GRADER_MODEL_TIMEOUT_MS   per attempt (default 60000); RFT_GRADER_MODEL_MAX_RETRIES (default 3)
 *   RFT_EMBEDDINGS_BASE_URL       for text_similarity cosine (default: the grader model's base URL and key)
 *   RFT_EMBEDDINGS_API_KEY, RFT_EMBEDDINGS_MODEL (default text-embedding-3-large)
 *   RFT_PYTHON_GRADER_WORKERS     warm interpreters (default: cores); RFT_PYTHON_GRADER_TIMEOUT_MS (default 30000)
 *   RFT_PYTHON_GRADER_MEMORY_MB   per interpreter (default 1024); RFT_PYTHON_GRADER_PYTHON (default /usr/bin/python3)
 *   RFT_PYTHON_GRADER_BWRAP       path to bwrap, or "off" for the weaker direct mode (default: bwrap on PATH)
 *   RFT_PYTHON_GRADER_RO_BINDS    extra read-only paths for the sandbox, ':'-separated (a venv with numpy, ...)
 */
import { z } from "zod";
import { openAICompatibleChat, openAICompatibleEmbeddings } from "./openai-compatible.ts";
import type { GraderContext } from "./ports.ts";
import { createPythonSandbox } from "./python/sandbox.node.ts";

const int = z.coerce.number().int().positive();

export const GraderEnv = z.object({
  RFT_GRADER_MODEL_BASE_URL: z.url().optional(),
  RFT_GRADER_MODEL_API_KEY: z.string().optional(),
  RFT_GRADER_MODEL_TIMEOUT_MS: int.default(60_000),
  RFT_GRADER_MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  RFT_EMBEDDINGS_BASE_URL: z.url().optional(),
  RFT_EMBEDDINGS_API_KEY: z.string().optional(),
  RFT_EMBEDDINGS_MODEL: z.string().default("text-embedding-3-large"),
  RFT_PYTHON_GRADER_WORKERS: int.optional(),
  RFT_PYTHON_GRADER_TIMEOUT_MS: int.default(30_000),
  RFT_PYTHON_GRADER_MEMORY_MB: int.default(1024),
  RFT_PYTHON_GRADER_PYTHON: z.string().default("/usr/bin/python3"),
  RFT_PYTHON_GRADER_BWRAP: z.string().optional(),
  RFT_PYTHON_GRADER_RO_BINDS: z.string().optional(),
});
export type GraderEnv = z.infer<typeof GraderEnv>;

/**
 * Builds the grader ports. `env` may be the API's parsed env (if it carries these keys) or any record; missing keys
 * are read from `source` (process.env).
 */
export async function createNodeGraderContext(
  env: unknown = {},
  source: Record<string, string | undefined> = process.env,
): Promise<GraderContext & { close: () => Promise<void> }> {
  const merged = { ...source, ...(env && typeof env === "object" ? (env as Record<string, unknown>) : {}) };
  const parsed = GraderEnv.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`Invalid environment variable ${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  const ctx: GraderContext & { close: () => Promise<void> } = { close: async () => {} };
  if (e.RFT_GRADER_MODEL_BASE_URL) {
    ctx.chat = openAICompatibleChat({
      baseURL: e.RFT_GRADER_MODEL_BASE_URL,
      ...(e.RFT_GRADER_MODEL_API_KEY ? { apiKey: e.RFT_GRADER_MODEL_API_KEY } : {}),
      timeoutMs: e.RFT_GRADER_MODEL_TIMEOUT_MS,
      maxRetries: e.RFT_GRADER_MODEL_MAX_RETRIES,
    });
  }
  const embeddingsURL = e.RFT_EMBEDDINGS_BASE_URL ?? e.RFT_GRADER_MODEL_BASE_URL;
  if (embeddingsURL) {
    const key = e.RFT_EMBEDDINGS_API_KEY ?? e.RFT_GRADER_MODEL_API_KEY;
    ctx.embeddings = openAICompatibleEmbeddings({ baseURL: embeddingsURL, ...(key ? { apiKey: key } : {}), timeoutMs: e.RFT_GRADER_MODEL_TIMEOUT_MS, maxRetries: e.RFT_GRADER_MODEL_MAX_RETRIES });
    ctx.embeddingModel = e.RFT_EMBEDDINGS_MODEL;
  }
  const python = createPythonSandbox({
    python: e.RFT_PYTHON_GRADER_PYTHON,
    ...(e.RFT_PYTHON_GRADER_BWRAP === "off" ? { bwrap: null } : e.RFT_PYTHON_GRADER_BWRAP ? { bwrap: e.RFT_PYTHON_GRADER_BWRAP } : {}),
    ...(e.RFT_PYTHON_GRADER_WORKERS ? { workers: e.RFT_PYTHON_GRADER_WORKERS } : {}),
    timeoutMs: e.RFT_PYTHON_GRADER_TIMEOUT_MS,
    memoryBytes: e.RFT_PYTHON_GRADER_MEMORY_MB * 1024 * 1024,
    ...(e.RFT_PYTHON_GRADER_RO_BINDS ? { readOnlyBinds: e.RFT_PYTHON_GRADER_RO_BINDS.split(":").filter(Boolean) } : {}),
  });
  ctx.python = python;
  ctx.close = () => python.close();
  return ctx;
}
