/**
 * cosine with a local ONNX embedding model: a tiny BERT-style encoder (random seeded weights, a WordPiece tokenizer
 * trained on a few sentences; test/graders/reference/build_tiny_embedder.py) exported to ONNX by PyTorch. Our
 * tokenization + onnxruntime-node + mean pooling must give PyTorch's sentence embeddings to 1e-5, and cosine grades
 * must follow them. The model is built once into .tmp/ (git-ignored) and rebuilt when the builder script changes.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOnnxEmbeddings, type OnnxEmbeddings } from "../../graders/embeddings/onnx.node.ts";
import { type GraderContext, runGrader, sampleFromText } from "../../graders/index.ts";
import { cosine } from "../../graders/leaf.ts";
import { createNodeGraderContext } from "../../graders/node.ts";
import { hasVenv, VENV_PYTHON } from "./reference/python.ts";

const BUILDER = join(import.meta.dirname, "reference/build_tiny_embedder.py");
const MODEL_DIR = resolve(import.meta.dirname, "../../.tmp/graders-onnx-embedder");

interface Expected {
  texts: string[];
  embeddings: number[][];
}

/** Builds the model unless the folder already holds one from this version of the builder. */
function ensureModel(): Expected {
  const stamp = createHash("sha256").update(readFileSync(BUILDER)).digest("hex");
  const stampFile = join(MODEL_DIR, "builder.sha256");
  if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== stamp) {
    const res = spawnSync(VENV_PYTHON, [BUILDER, MODEL_DIR], { encoding: "utf8", timeout: 170_000 });
    if (res.status !== 0) throw new Error(`build_tiny_embedder.py failed: ${res.stderr || res.error}`);
    writeFileSync(stampFile, stamp);
  }
  return JSON.parse(readFileSync(join(MODEL_DIR, "expected.json"), "utf8")) as Expected;
}

describe.skipIf(!hasVenv)("cosine with a local ONNX embedding model", () => {
  let expected: Expected;
  let embeddings: OnnxEmbeddings;
  let ctx: GraderContext;

  beforeAll(async () => {
    expected = ensureModel();
    embeddings = await createOnnxEmbeddings(MODEL_DIR);
    ctx = await createNodeGraderContext({ RFT_GRADER_EMBEDDINGS_ONNX_DIR: MODEL_DIR });
  }, 180_000);

  afterAll(async () => {
    await embeddings?.close();
    await ctx?.close?.();
  });

  it("gives PyTorch's mean-pooled, normalised embeddings to 1e-5 (unicode, empty, unknown words, truncation)", async () => {
    expect(embeddings.maxTokens).toBe(128);
    const r = await embeddings.embed("tiny", expected.texts);
    if (!r.ok) throw new Error(r.message);
    expect(r.vectors).toHaveLength(expected.texts.length);
    const worst = Math.max(...r.vectors.flatMap((v, i) => v.map((x, h) => Math.abs(x - expected.embeddings[i]![h]!))));
    expect(worst).toBeLessThan(1e-5);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(128);
  });

  it("embeds a text repeated within one request once", async () => {
    const once = await embeddings.embed("tiny", ["the quick brown fox"]);
    const twice = await embeddings.embed("tiny", ["the quick brown fox", "the quick brown fox"]);
    if (!once.ok || !twice.ok) throw new Error("embedding failed");
    expect(twice.vectors[0]).toEqual(twice.vectors[1]);
    expect(twice.usage).toEqual(once.usage);
  });

  it("cosine grades through the Node grader context follow the PyTorch embeddings", async () => {
    const grader = {
      type: "text_similarity",
      name: "cos",
      input: "{{sample.output_text}}",
      reference: "{{item.reference}}",
      evaluation_metric: "cosine",
    } as const;
    const pairs: [number, number][] = [
      [0, 1],
      [0, 2],
      [3, 4],
      [2, 2],
    ];
    for (const [i, j] of pairs) {
      const r = await runGrader(
        grader,
        { sample: sampleFromText(expected.texts[i]!), item: { reference: expected.texts[j]! } },
        ctx,
      );
      expect(r.metadata.error).toBeNull();
      expect(r.reward).toBeCloseTo(cosine(expected.embeddings[i]!, expected.embeddings[j]!), 5);
    }
    expect(ctx.embeddingModel).toBe("graders-onnx-embedder");
  });
});
