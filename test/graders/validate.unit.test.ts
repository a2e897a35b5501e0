import { describe, expect, it } from "vitest";
import { validateGrader } from "../../graders/index.ts";

const sc = {
  type: "string_check",
  name: "s",
  input: "{{sample.output_text}}",
  reference: "{{item.a}}",
  operation: "eq",
};
const py = { type: "python", name: "p", source: "def grade(sample, item):\n    return 1.0\n" };
const score = {
  type: "score_model",
  name: "m",
  model: "gpt-4o-mini",
  input: [{ role: "user", content: "Rate {{sample.output_text}}" }],
};

describe("validateGrader", () => {
  it("accepts every grader type with OpenAI's field names", () => {
    for (const g of [
      sc,
      {
        type: "text_similarity",
        name: "t",
        input: "a",
        reference: "b",
        evaluation_metric: "rouge_l",
        pass_threshold: 0.5,
      },
      {
        ...score,
        range: [0, 10],
        sampling_params: { temperature: 1, top_p: 1, seed: 42, max_completions_tokens: 100, reasoning_effort: "low" },
      },
      {
        type: "label_model",
        name: "l",
        model: "m",
        input: [
          { type: "message", role: "system", content: { type: "input_text", text: "Classify {{item.response}}" } },
        ],
        labels: ["pos", "neg"],
        passing_labels: ["pos"],
      },
      { ...py, image_tag: "2025-05-08" },
      { type: "multi", name: "mm", graders: { a: sc, b: py }, calculate_output: "0.5 * a + 0.5 * b" },
    ]) {
      const r = validateGrader(g);
      expect(r).toEqual({ ok: true, grader: g });
    }
  });

  it("names the bad field with a dotted path from grader", () => {
    expect(validateGrader({ ...sc, operation: "like%" })).toMatchObject({ ok: false, param: "grader.operation" });
    expect(
      validateGrader({ type: "multi", name: "m", graders: { a: { ...sc, operation: "x" } }, calculate_output: "a" }),
    ).toMatchObject({ ok: false, param: "grader.graders.a.operation" });
    expect(validateGrader({ ...sc, name: undefined })).toMatchObject({ ok: false, param: "grader.name" });
    expect(validateGrader({ ...sc, refrence: "x" })).toEqual({
      ok: false,
      param: "grader.refrence",
      message: "Unknown parameter 'grader.refrence'.",
    });
    expect(validateGrader({ ...score, input: [{ role: "robot", content: "x" }] })).toMatchObject({
      ok: false,
      param: "grader.input.0.role",
    });
    expect(validateGrader({ ...score, range: [1, 0] })).toMatchObject({ ok: false, param: "grader.range" });
    expect(
      validateGrader({
        type: "label_model",
        name: "l",
        model: "m",
        input: [{ role: "user", content: "x" }],
        labels: ["a"],
        passing_labels: ["b"],
      }),
    ).toMatchObject({ ok: false, param: "grader.passing_labels.0" });
  });

  it("rejects unknown types, nested multi, bad formulas and bad templates", () => {
    expect(validateGrader({ type: "regex" })).toMatchObject({ ok: false, param: "grader.type" });
    expect(validateGrader(null)).toMatchObject({ ok: false, param: "grader" });
    expect(
      validateGrader({ type: "multi", name: "m", graders: { a: { type: "multi" } }, calculate_output: "a" }),
    ).toEqual({
      ok: false,
      param: "grader.graders.a.type",
      message: "You cannot create a multigrader with a nested multigrader inside.",
    });
    expect(validateGrader({ type: "multi", name: "m", graders: sc, calculate_output: "a" })).toMatchObject({
      ok: false,
      param: "grader.graders",
    });
    expect(validateGrader({ type: "multi", name: "m", graders: { a: sc }, calculate_output: "a +" })).toMatchObject({
      ok: false,
      param: "grader.calculate_output",
    });
    expect(validateGrader({ type: "multi", name: "m", graders: { "a-b": sc }, calculate_output: "1" })).toMatchObject({
      ok: false,
      param: "grader.graders.a-b",
    });
    expect(validateGrader({ ...sc, input: "{{ samples.output_text }}" })).toMatchObject({
      ok: false,
      param: "grader.input",
    });
    expect(
      validateGrader({ ...score, input: [{ role: "user", content: [{ type: "input_text", text: "{{x.y}}" }] }] }),
    ).toMatchObject({ ok: false, param: "grader.input.0.content.0.text" });
    expect(
      validateGrader({
        type: "multi",
        name: "m",
        graders: { a: { ...sc, reference: "{{bad.ns}}" } },
        calculate_output: "a",
      }),
    ).toMatchObject({ ok: false, param: "grader.graders.a.reference" });
  });

  it("checks python sources for a grade function and the 256 kB limit", () => {
    expect(validateGrader({ ...py, source: "def other(): pass" })).toMatchObject({
      ok: false,
      param: "grader.source",
      message: expect.stringMatching(/grade\(sample, item\)/),
    });
    expect(
      validateGrader({ ...py, source: `def grade(s, i):\n    return 1\n#${"x".repeat(256 * 1024)}` }),
    ).toMatchObject({ ok: false, param: "grader.source" });
  });
});
