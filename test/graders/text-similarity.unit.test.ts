/**
 * text_similarity: scores worked out by hand or published by the reference libraries. Parity with the Python
 * references on a large corpus is parity.int.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Embeddings } from "../../graders/index.ts";
import { LOCAL_METRICS } from "../../graders/index.ts";
import { porterStem } from "../../graders/metrics/porter.ts";
import { grade, NO_ERRORS } from "./helpers.ts";

const sim = (evaluation_metric: string, extra: Record<string, unknown> = {}) =>
  ({
    type: "text_similarity",
    name: "sim",
    input: "{{sample.output_text}}",
    reference: "{{item.ref}}",
    evaluation_metric,
    ...extra,
  }) as never;

describe("text_similarity metrics", () => {
  it("ROUGE matches hand-computed F-measures (rouge-score algorithm)", () => {
    const ref = "the cat sat on the mat";
    const out = "The cat, on the mat!";
    // rouge1: overlap 5 of 5 predicted / 6 target unigrams → P=1, R=5/6, F=10/11.
    expect(LOCAL_METRICS.rouge_1(out, ref)).toBeCloseTo(10 / 11, 12);
    // rouge2: bigrams {the cat, on the, the mat} shared → P=3/4, R=3/5, F=2/3.
    expect(LOCAL_METRICS.rouge_2(out, ref)).toBeCloseTo(2 / 3, 12);
    // rougeL: LCS "the cat on the mat" = 5 → same as rouge1.
    expect(LOCAL_METRICS.rouge_l(out, ref)).toBeCloseTo(10 / 11, 12);
    expect(LOCAL_METRICS.rouge_5(out, ref)).toBe(0);
  });

  it("ROUGE agrees with the values in rouge-score's README", () => {
    const target = "The quick brown fox jumps over the lazy dog";
    const prediction = "The quick brown dog jumps on the log.";
    expect(LOCAL_METRICS.rouge_1(prediction, target)).toBeCloseTo(0.70588235, 8);
    expect(LOCAL_METRICS.rouge_l(prediction, target)).toBeCloseTo(0.58823529, 8);
  });

  it("ROUGE drops non-ASCII text like rouge-score's tokenizer does", () => {
    expect(LOCAL_METRICS.rouge_1("日本語", "日本語")).toBe(0);
    expect(LOCAL_METRICS.rouge_1("café", "caf")).toBe(1);
  });

  it("identical texts score 1 and disjoint texts 0 on every metric", () => {
    const text = "the quick brown fox jumps over the lazy dog";
    for (const [name, fn] of Object.entries(LOCAL_METRICS)) {
      // METEOR keeps its fragmentation penalty even for one chunk: 1 - 0.5 * (1/9)^3 for these 9 words.
      const one = name === "meteor" ? 1 - 0.5 / 9 ** 3 : 1;
      expect([name, fn(text, text)]).toEqual([name, expect.closeTo(one, 12)]);
      // fuzzy_match compares characters, so disjoint words still share letters (rapidfuzz gives 0.5 here).
      expect([name, fn("alpha beta gamma delta", "epsilon zeta eta theta")]).toEqual([
        name,
        name === "fuzzy_match" ? 0.5 : 0,
      ]);
    }
  });

  it("empty strings score 0", () => {
    for (const [name, fn] of Object.entries(LOCAL_METRICS)) expect([name, fn("", "")]).toEqual([name, 0]);
  });

  it("fuzzy_match is rapidfuzz WRatio with default_process, /100", () => {
    expect(LOCAL_METRICS.fuzzy_match("fuzzy wuzzy was a bear", "wuzzy fuzzy was a bear")).toBeCloseTo(0.95, 12);
    // ratio("new york mets", "new york mets vs atlanta braves") region: partial match scaled by 0.9.
    expect(LOCAL_METRICS.fuzzy_match("new york mets", "new york mets vs atlanta braves")).toBeCloseTo(0.9, 12);
    expect(LOCAL_METRICS.fuzzy_match("Hello World", "hello world!")).toBe(1);
    // default_process turns ", " into two spaces: "hello  world" vs "hello world" (values from rapidfuzz 3.14).
    expect(LOCAL_METRICS.fuzzy_match("HELLO, World!", "hello world")).toBeCloseTo(0.9565217391304348, 12);
  });

  it("meteor stems with NLTK's Porter stemmer", () => {
    expect(["caresses", "ponies", "dying", "generalization", "happily", "geology"].map(porterStem)).toEqual([
      "caress",
      "poni",
      "die",
      "gener",
      "happili",
      "geolog",
    ]);
    expect(LOCAL_METRICS.meteor("he runs", "he running")).toBeGreaterThan(0.9);
  });
});

describe("text_similarity grader", () => {
  it("renders templates, returns the score as reward, and honours pass_threshold", async () => {
    const r = await grade(sim("rouge_1", { pass_threshold: 0.95 }), "The cat, on the mat!", {
      ref: "the cat sat on the mat",
    });
    expect(r.reward).toBeCloseTo(10 / 11, 12);
    expect(r.metadata).toMatchObject({ type: "text_similarity", errors: NO_ERRORS, scores: { passed: false } });
  });

  it("cosine goes through the embeddings port (an in-process stub here; the HTTP adapter is in model-graders.int)", async () => {
    const seen: string[][] = [];
    const embeddings: Embeddings = {
      async embed(model, inputs) {
        seen.push([model, ...inputs]);
        return {
          ok: true,
          vectors: [
            [1, 0, 1],
            [1, 1, 0],
          ],
          usage: { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4, cached_tokens: 0 },
        };
      },
    };
    const r = await grade(sim("cosine"), "a", { ref: "b" }, { embeddings, embeddingModel: "emb" });
    expect(r.reward).toBeCloseTo(0.5, 12);
    expect(seen).toEqual([["emb", "a", "b"]]);
  });

  it("cosine without an embeddings endpoint is a typed error with reward 0", async () => {
    const r = await grade(sim("cosine"), "a", { ref: "b" });
    expect(r.reward).toBe(0);
    expect(r.metadata.error).toMatchObject({ code: "unsupported" });
    expect(r.metadata.errors.other_error).toBe(true);
  });

  it("a missing item field is an invalid_variable_error", async () => {
    const r = await grade(sim("bleu"), "x", {});
    expect(r.reward).toBe(0);
    expect(r.metadata.errors).toEqual({ ...NO_ERRORS, invalid_variable_error: true });
    expect(r.metadata.error).toEqual({
      code: "invalid_variable",
      message: "template variable 'item.ref' not found in the item",
    });
  });
});
