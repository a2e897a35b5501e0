// Greedy decoding of an ONNX export written by gpu-runner/trainer/onnx_export.py, in Node, without Python.
// Token ids in, token ids out: tokenization is the caller's business.
//
// Shapes follow the trainer's convention: B batch, T new tokens this step, P past tokens, H kv heads,
// D head dim, V vocab. Each step feeds input_ids [B,T], attention_mask [B,P+T], position_ids [B,T] and
// the previous step's present.N.key/value [B,H,P,D] as past_key_values.N.key/value; the first step
// (the whole prompt) feeds an empty past (P = 0).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { z } from "zod";

const tokenId = z.number().int().nonnegative();

/** `onnx_config.json`, written beside `model.onnx` by the Python exporter. */
export const OnnxDecoderConfig = z.object({
  format: z.literal("rft-onnx-decoder"),
  format_version: z.literal(1),
  model_type: z.string().nullable(),
  opset: z.number().int(),
  model_file: z.string().min(1),
  dtype: z.literal("float32"),
  num_layers: z.number().int().positive(),
  num_kv_heads: z.number().int().positive(),
  head_dim: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  eos_token_ids: z.array(tokenId),
  bos_token_id: tokenId.nullable(),
  pad_token_id: tokenId.nullable(),
  inputs: z.array(z.string()),
  outputs: z.array(z.string()),
});
export type OnnxDecoderConfig = z.infer<typeof OnnxDecoderConfig>;

/** A loaded export: the onnxruntime session and the config that says how to drive it. */
export interface OnnxDecoder {
  session: ort.InferenceSession;
  config: OnnxDecoderConfig;
}

/** Options for {@link greedyDecode} and {@link greedyDecodeBatch}. */
export interface GreedyDecodeOptions {
  /** Ids that end a sequence (emitted, then decoding stops). Defaults to `config.eos_token_ids`; `[]` never stops early. */
  eosTokenIds?: readonly number[];
}

/** Reads and validates `<dir>/onnx_config.json`. */
export async function loadOnnxConfig(dir: string): Promise<OnnxDecoderConfig> {
  const text = await readFile(join(dir, "onnx_config.json"), "utf8");
  return OnnxDecoderConfig.parse(JSON.parse(text));
}

/**
 * Loads an export folder on onnxruntime's CPU backend (or as `options` says) and checks that the graph's
 * inputs and outputs are the ones its config names.
 */
export async function loadOnnxDecoder(
  dir: string,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<OnnxDecoder> {
  const config = await loadOnnxConfig(dir);
  const session = await ort.InferenceSession.create(join(dir, config.model_file), options);
  assertSameNames("inputs", session.inputNames, config.inputs);
  assertSameNames("outputs", session.outputNames, config.outputs);
  return { session, config };
}

/**
 * Greedy-decodes up to `maxNewTokens` tokens after `promptIds` and returns the new ids only. When an EOS id
 * is produced it is the last id returned. Matches PyTorch's argmax decoding token for token (ties go to the
 * lowest id, as `torch.argmax` does).
 */
export async function greedyDecode(
  session: ort.InferenceSession,
  config: OnnxDecoderConfig,
  promptIds: readonly number[],
  maxNewTokens: number,
  options: GreedyDecodeOptions = {},
): Promise<number[]> {
  const [generated] = await greedyDecodeBatch(session, config, [promptIds], maxNewTokens, options);
  return generated ?? [];
}

/**
 * {@link greedyDecode} for several prompts at once: prompts are left-padded to one length and masked, so
 * each row's result equals decoding that prompt alone (up to float rounding).
 */
export async function greedyDecodeBatch(
  session: ort.InferenceSession,
  config: OnnxDecoderConfig,
  prompts: readonly (readonly number[])[],
  maxNewTokens: number,
  options: GreedyDecodeOptions = {},
): Promise<number[][]> {
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  for (const prompt of prompts) assertPrompt(prompt, config.vocab_size);
  const eos = new Set(options.eosTokenIds ?? config.eos_token_ids);
  const generated_B: number[][] = prompts.map(() => []);
  if (prompts.length === 0 || maxNewTokens === 0) return generated_B;

  const batch = prompts.length;
  const padId = config.pad_token_id ?? config.eos_token_ids[0] ?? 0; // any id: padded positions are masked out
  const promptLen = Math.max(...prompts.map((p) => p.length));
  const mask_BS: number[][] = prompts.map((p) => [...Array(promptLen - p.length).fill(0), ...p.map(() => 1)]);
  const lastPosition_B = prompts.map((p) => p.length - 1);
  const done_B = prompts.map(() => false);

  let inputIds_BT = prompts.map((p) => [...Array(promptLen - p.length).fill(padId), ...p]);
  let positions_BT = prompts.map((p) => [...Array(promptLen - p.length).fill(0), ...p.map((_, i) => i)]);
  let past = emptyPast(config, batch);

  for (let step = 0; step < maxNewTokens; step++) {
    const outputs = await session.run({
      input_ids: int64Tensor(inputIds_BT),
      attention_mask: int64Tensor(mask_BS),
      position_ids: int64Tensor(positions_BT),
      ...past,
    });
    const next_B = lastTokenArgmax(outputs.logits, batch, config.vocab_size);
    for (let b = 0; b < batch; b++) {
      if (done_B[b]) continue;
      const token = next_B[b]!;
      generated_B[b]!.push(token);
      if (eos.has(token)) done_B[b] = true;
    }
    if (done_B.every(Boolean)) break;

    past = presentAsPast(outputs, config.num_layers);
    inputIds_BT = next_B.map((token, b) => [done_B[b] ? padId : token]);
    for (const row of mask_BS) row.push(1);
    positions_BT = lastPosition_B.map((position, b) => {
      lastPosition_B[b] = position + 1;
      return [position + 1];
    });
  }
  return generated_B;
}

function emptyPast(config: OnnxDecoderConfig, batch: number): Record<string, ort.Tensor> {
  const dims = [batch, config.num_kv_heads, 0, config.head_dim];
  const past: Record<string, ort.Tensor> = {};
  for (let n = 0; n < config.num_layers; n++) {
    for (const kind of ["key", "value"]) past[`past_key_values.${n}.${kind}`] = new ort.Tensor("float32", [], dims);
  }
  return past;
}

function presentAsPast(outputs: ort.InferenceSession.OnnxValueMapType, numLayers: number): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (let n = 0; n < numLayers; n++) {
    for (const kind of ["key", "value"]) {
      const present = outputs[`present.${n}.${kind}`];
      if (present === undefined) throw new Error(`the graph returned no present.${n}.${kind}`);
      past[`past_key_values.${n}.${kind}`] = present;
    }
  }
  return past;
}

function int64Tensor(rows: readonly (readonly number[])[]): ort.Tensor {
  const width = rows[0]?.length ?? 0;
  const data = BigInt64Array.from(rows.flat(), (value) => BigInt(value));
  return new ort.Tensor("int64", data, [rows.length, width]);
}

/** Argmax over the vocabulary at the last position of each row of logits [B, T, V]; first index wins ties. */
function lastTokenArgmax(logits: ort.Tensor | undefined, batch: number, vocab: number): number[] {
  if (logits === undefined || logits.type !== "float32") throw new Error("the graph returned no float32 logits");
  const data = logits.data as Float32Array;
  const steps = logits.dims[1] ?? 0;
  const next_B: number[] = [];
  for (let b = 0; b < batch; b++) {
    const offset = (b * steps + steps - 1) * vocab;
    let best = 0;
    let bestValue = data[offset]!;
    for (let v = 1; v < vocab; v++) {
      const value = data[offset + v]!;
      if (value > bestValue) {
        best = v;
        bestValue = value;
      }
    }
    if (Number.isNaN(bestValue)) throw new Error(`logits of row ${b} are NaN`);
    next_B.push(best);
  }
  return next_B;
}

function assertPrompt(prompt: readonly number[], vocabSize: number): void {
  if (prompt.length === 0) throw new RangeError("a prompt needs at least one token id");
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

function assertSameNames(what: string, actual: readonly string[], expected: readonly string[]): void {
  if (actual.length !== expected.length || actual.some((name, i) => name !== expected[i])) {
    throw new Error(`graph ${what} [${actual.join(", ")}] differ from onnx_config.json [${expected.join(", ")}]`);
  }
}
