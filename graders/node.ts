/**
 * Node-only: the grader context the API and the runner use on Node. Chat and embeddings go to the
 * OpenAI-compatible endpoint the operator configures; cosine embeddings come instead from a local ONNX model when
 * RFT_GRADER_EMBEDDINGS_ONNX_DIR names one (loaded here, so a bad folder fails at start-up); python graders run in
 * the warm bubblewrap pool, built on first use so a server that never runs a python grader starts no interpreters.
 * meteor's WordNet synonym stage reads RFT_GRADER_WORDNET_DIR (default /usr/share/wordnet when it exists; "" turns
 * it off); its files are checked here and read on first use.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { createOnnxEmbeddings } from "./embeddings/onnx.node.ts";
import { DEFAULT_WORDNET_DIR, wordNetFiles } from "./metrics/wordnet/files.node.ts";
import { WordNet } from "./metrics/wordnet/wordnet.ts";
import { openAICompatibleChat, openAICompatibleEmbeddings } from "./openai-compatible.ts";
import type { GraderContext, PythonRunner } from "./ports.ts";
import { createPythonSandbox, type PythonSandbox } from "./python/sandbox.node.ts";

export interface NodeGraderSettings {
  /** OpenAI-compatible base URL for score_model / label_model graders and cosine embeddings. */
  RFT_GRADER_BASE_URL?: string | undefined;
  RFT_GRADER_API_KEY?: string | undefined;
  RFT_EMBEDDING_MODEL?: string | undefined;
  /** A Hugging Face style ONNX embedding model folder (model.onnx + tokenizer.json) for cosine, used over the endpoint. */
  RFT_GRADER_EMBEDDINGS_ONNX_DIR?: string | undefined;
  RFT_PYTHON_GRADER_WORKERS?: number | undefined;
  /** Wall-clock limit per python grading (ms; default 30000; the CPU limit is 60% of it). */
  RFT_PYTHON_GRADER_TIMEOUT_MS?: number | undefined;
  /** Address-space limit per python interpreter (MiB; default 1024). */
  RFT_PYTHON_GRADER_MEMORY_MB?: number | undefined;
  /** A WordNet 3.0 dict folder for meteor's synonym stage; default /usr/share/wordnet if present; "" for none. */
  RFT_GRADER_WORDNET_DIR?: string | undefined;
}

function lazyPython(build: () => PythonSandbox): PythonRunner & { close(): Promise<void> } {
  let pool: PythonSandbox | null = null;
  const get = () => {
    pool ??= build();
    return pool;
  };
  return {
    get isolation() {
      return get().isolation;
    },
    run: (request, options) => get().run(request, options),
    close: async () => {
      await pool?.close();
    },
  };
}

export async function createNodeGraderContext(settings: NodeGraderSettings = {}): Promise<GraderContext> {
  const endpoint = settings.RFT_GRADER_BASE_URL
    ? {
        baseURL: settings.RFT_GRADER_BASE_URL,
        ...(settings.RFT_GRADER_API_KEY ? { apiKey: settings.RFT_GRADER_API_KEY } : {}),
      }
    : null;
  const python = lazyPython(() =>
    createPythonSandbox({
      ...(settings.RFT_PYTHON_GRADER_WORKERS ? { workers: settings.RFT_PYTHON_GRADER_WORKERS } : {}),
      ...(settings.RFT_PYTHON_GRADER_TIMEOUT_MS ? { timeoutMs: settings.RFT_PYTHON_GRADER_TIMEOUT_MS } : {}),
      ...(settings.RFT_PYTHON_GRADER_MEMORY_MB
        ? { memoryBytes: settings.RFT_PYTHON_GRADER_MEMORY_MB * 1024 * 1024 }
        : {}),
    }),
  );
  const onnxDir = settings.RFT_GRADER_EMBEDDINGS_ONNX_DIR;
  const onnx = onnxDir ? await createOnnxEmbeddings(onnxDir) : null;
  const embeddings = onnx ?? (endpoint ? openAICompatibleEmbeddings(endpoint) : null);
  // The local model's name (metadata only) is its folder's, unless the operator names it.
  const embeddingModel = settings.RFT_EMBEDDING_MODEL ?? (onnxDir ? basename(onnxDir) : undefined);
  const wordnetDir = settings.RFT_GRADER_WORDNET_DIR ?? (existsSync(DEFAULT_WORDNET_DIR) ? DEFAULT_WORDNET_DIR : "");
  const wordnetFiles = wordnetDir ? wordNetFiles(wordnetDir) : null;
  return {
    ...(endpoint ? { chat: openAICompatibleChat(endpoint) } : {}),
    ...(embeddings ? { embeddings } : {}),
    ...(embeddingModel ? { embeddingModel } : {}),
    ...(wordnetFiles ? { wordnet: new WordNet(wordnetFiles) } : {}),
    python,
    close: async () => {
      wordnetFiles?.close();
      await python.close();
      await onnx?.close();
    },
  };
}
