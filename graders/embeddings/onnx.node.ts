/**
 * Node-only: `Embeddings` from a local ONNX sentence-embedding model, for text_similarity's cosine metric when the
 * operator sets RFT_GRADER_EMBEDDINGS_ONNX_DIR instead of (or besides) an OpenAI-compatible endpoint.
 *
 * The folder is a Hugging Face style ONNX export: `model.onnx` (inputs `input_ids`, `attention_mask`, optionally
 * `token_type_ids`; first output `last_hidden_state` [batch, tokens, hidden], or an already pooled [batch, hidden]),
 * `tokenizer.json` and optionally `tokenizer_config.json` and `config.json`. Texts are tokenized with
 * @huggingface/tokenizers (the tokenizer.json pipeline, special tokens included), truncated to the model's length
 * the way `tokenizers` truncates (content first, special tokens kept), padded per batch, run through
 * onnxruntime-node on CPU, mean-pooled over the attention mask (sentence-transformers' default) and L2-normalised.
 * Equal texts in one request are embedded once.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { Embeddings, EmbedOutcome } from "../ports.ts";

export interface OnnxEmbeddingsOptions {
  /** Most tokens per text, special tokens included; default: the folder's model_max_length / max_position_embeddings, else 512. */
  maxTokens?: number;
  /** Threads onnxruntime may use for one run (default: its own choice). */
  threads?: number;
}

export interface OnnxEmbeddings extends Embeddings {
  readonly maxTokens: number;
  close(): Promise<void>;
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function positiveInt(value: unknown): number | null {
  // Tokenizer configs use a huge sentinel (1e30) for "no limit".
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value < 1e9 ? value : null;
}

/** Token ids of `text` with special tokens, at most `max` long: the content is cut, the special tokens stay. */
function encode(tokenizer: Tokenizer, text: string, max: number): number[] {
  const full = tokenizer.encode(text).ids;
  if (full.length <= max) return full;
  const plain = tokenizer.encode(text, { add_special_tokens: false }).ids;
  const specials = full.length - plain.length;
  // Where the content sits among the special tokens ([CLS] ... [SEP]: 1).
  let at = 0;
  while (at <= specials && full[at] !== plain[0]) at++;
  const keep = Math.max(0, max - specials);
  return [...full.slice(0, at), ...plain.slice(0, keep), ...full.slice(at + plain.length)];
}

/** Loads the model folder; throws if it cannot be read (start-up, before any grading). */
export async function createOnnxEmbeddings(dir: string, options: OnnxEmbeddingsOptions = {}): Promise<OnnxEmbeddings> {
  const tokenizerJson = await readJson(join(dir, "tokenizer.json"));
  if (!tokenizerJson) throw new Error(`${dir}: no tokenizer.json`);
  const tokenizerConfig = (await readJson(join(dir, "tokenizer_config.json"))) ?? {};
  const modelConfig = (await readJson(join(dir, "config.json"))) ?? {};
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const maxTokens =
    options.maxTokens ??
    positiveInt(tokenizerConfig.model_max_length) ??
    positiveInt(modelConfig.max_position_embeddings) ??
    512;
  const session = await InferenceSession.create(join(dir, "model.onnx"), {
    executionProviders: ["cpu"],
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  });
  const wantsTypeIds = session.inputNames.includes("token_type_ids");
  const outputName = session.outputNames[0]!;

  async function run(texts: string[]): Promise<{ vectors: number[][]; tokens: number }> {
    const encoded = texts.map((t) => encode(tokenizer, t, maxTokens));
    const batch = encoded.length;
    const width = Math.max(1, ...encoded.map((ids) => ids.length));
    const ids = new BigInt64Array(batch * width);
    const mask = new BigInt64Array(batch * width);
    let tokens = 0;
    encoded.forEach((row, b) => {
      tokens += row.length;
      row.forEach((id, t) => {
        ids[b * width + t] = BigInt(id);
        mask[b * width + t] = 1n;
      });
    });
    const feeds: Record<string, Tensor> = {
      input_ids: new Tensor("int64", ids, [batch, width]),
      attention_mask: new Tensor("int64", mask, [batch, width]),
    };
    if (wantsTypeIds) feeds.token_type_ids = new Tensor("int64", new BigInt64Array(batch * width), [batch, width]);
    const out = (await session.run(feeds))[outputName]!;
    const data = out.data as Float32Array;
    const dims = out.dims;
    const hidden = dims[dims.length - 1]!;
    const vectors = encoded.map((row, b) => {
      const v = new Float64Array(hidden);
      if (dims.length === 2) {
        for (let h = 0; h < hidden; h++) v[h] = data[b * hidden + h]!;
      } else {
        // Mean over the real (unpadded) tokens.
        const n = Math.max(1, row.length);
        for (let t = 0; t < row.length; t++) {
          const base = (b * width + t) * hidden;
          for (let h = 0; h < hidden; h++) v[h]! += data[base + h]!;
        }
        for (let h = 0; h < hidden; h++) v[h]! /= n;
      }
      let norm = 0;
      for (let h = 0; h < hidden; h++) norm += v[h]! * v[h]!;
      norm = Math.max(Math.sqrt(norm), 1e-12);
      return Array.from(v, (x) => x / norm);
    });
    return { vectors, tokens };
  }

  return {
    maxTokens,
    async embed(_model, inputs, opts = {}): Promise<EmbedOutcome> {
      if (opts.signal?.aborted) return { ok: false, message: "aborted" };
      try {
        const distinct = [...new Set(inputs)];
        const { vectors, tokens } = await run(distinct);
        const byText = new Map(distinct.map((t, i) => [t, vectors[i]!]));
        return {
          ok: true,
          vectors: inputs.map((t) => byText.get(t)!),
          usage: { prompt_tokens: tokens, completion_tokens: 0, total_tokens: tokens, cached_tokens: 0 },
        };
      } catch (err) {
        return { ok: false, message: `onnx embeddings: ${(err as Error).message}` };
      }
    },
    close: () => session.release(),
  };
}
