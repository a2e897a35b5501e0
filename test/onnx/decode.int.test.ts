/**
 * Greedy decoding of an ONNX export in onnxruntime-node matches PyTorch token for token.
 * The Python fixture builds a tiny random Llama, decodes it without a KV cache and exports it with
 * gpu-runner/trainer/onnx_export.py; this side decodes the export with the cache and compares ids.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { greedyDecode, greedyDecodeBatch, loadOnnxDecoder, type OnnxDecoder } from "../../gpu-runner/onnx/decode.ts";
import { findPython, REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";

interface Expected {
  onnx_dir: string;
  new_tokens: number;
  prompts: { prompt_ids: number[]; expected_ids: number[] }[];
  min_margin: number;
  export_seconds: number;
}

const FIXTURE_SCRIPT = join(REPO_ROOT, "gpu-runner/trainer/tests/make_onnx_fixture.py");
// The export takes about 25 s of CPU; a busy 2-core machine has stretched it past 150 s of wall time.
const FIXTURE_TIMEOUT_MS = 300_000;
const python = (() => {
  try {
    return findPython();
  } catch {
    return undefined;
  }
})();

describe.skipIf(python === undefined)("ONNX greedy decoding in onnxruntime-node", () => {
  let dir: string;
  let expected: Expected;
  let decoder: OnnxDecoder;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rft-onnx-"));
    await promisify(execFile)(python!, [FIXTURE_SCRIPT, "--out", dir, "--new-tokens", "12"], {
      timeout: FIXTURE_TIMEOUT_MS - 10_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    expected = JSON.parse(await readFile(join(dir, "expected.json"), "utf8")) as Expected;
    decoder = await loadOnnxDecoder(expected.onnx_dir);
  }, FIXTURE_TIMEOUT_MS);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes the graph, its weights, the tokenizer and a config Node can read", () => {
    for (const file of ["model.onnx", "model.onnx.data", "onnx_config.json", "tokenizer.json"]) {
      expect(existsSync(join(expected.onnx_dir, file)), file).toBe(true);
    }
    expect(decoder.config).toMatchObject({ num_layers: 2, num_kv_heads: 2, head_dim: 16, eos_token_ids: [2] });
    expect(expected.min_margin).toBeGreaterThanOrEqual(1e-3);
  });

  it("decodes each prompt exactly as PyTorch does", async () => {
    for (const { prompt_ids, expected_ids } of expected.prompts) {
      const ids = await greedyDecode(decoder.session, decoder.config, prompt_ids, expected.new_tokens, {
        eosTokenIds: [],
      });
      expect(ids).toEqual(expected_ids);
    }
  });

  it("decodes a left-padded batch of prompts of different lengths exactly as one at a time", async () => {
    const prompts = expected.prompts.map((p) => p.prompt_ids);
    const ids = await greedyDecodeBatch(decoder.session, decoder.config, prompts, expected.new_tokens, {
      eosTokenIds: [],
    });
    expect(ids).toEqual(expected.prompts.map((p) => p.expected_ids));
  });

  it("stops after the first EOS id and returns it last", async () => {
    const { prompt_ids, expected_ids } = expected.prompts[0]!;
    const eos = expected_ids[4]!;
    const stopAt = expected_ids.indexOf(eos);
    const ids = await greedyDecode(decoder.session, decoder.config, prompt_ids, expected.new_tokens, {
      eosTokenIds: [eos],
    });
    expect(ids).toEqual(expected_ids.slice(0, stopAt + 1));
  });

  it("stops each row of a batch at its own EOS and keeps decoding the others", async () => {
    const [first, second] = expected.prompts;
    const eos = first!.expected_ids[0]!;
    const ids = await greedyDecodeBatch(
      decoder.session,
      decoder.config,
      [first!.prompt_ids, second!.prompt_ids],
      expected.new_tokens,
      { eosTokenIds: [eos] },
    );
    const cut = (row: number[]) => (row.includes(eos) ? row.slice(0, row.indexOf(eos) + 1) : row);
    expect(ids).toEqual([cut(first!.expected_ids), cut(second!.expected_ids)]);
  });

  it("returns nothing for zero new tokens and refuses ids outside the vocabulary", async () => {
    const { session, config } = decoder;
    expect(await greedyDecode(session, config, [5, 6], 0)).toEqual([]);
    await expect(greedyDecode(session, config, [config.vocab_size], 1)).rejects.toThrow(RangeError);
    await expect(greedyDecode(session, config, [], 1)).rejects.toThrow(RangeError);
  });
});
