import { describe, expect, it } from "vitest";
import { grade, NO_ERRORS } from "./helpers.ts";

const check = (
  operation: "eq" | "ne" | "like" | "ilike",
  input = "{{sample.output_text}}",
  reference = "{{item.answer}}",
) => ({ type: "string_check", name: "check", input, reference, operation }) as const;

describe("string_check", () => {
  it("eq is case-sensitive equality", async () => {
    expect((await grade(check("eq"), "Paris", { answer: "Paris" })).reward).toBe(1);
    expect((await grade(check("eq"), "paris", { answer: "Paris" })).reward).toBe(0);
    expect((await grade(check("eq"), "", { answer: "" })).reward).toBe(1);
  });

  it("ne is case-sensitive inequality", async () => {
    expect((await grade(check("ne"), "paris", { answer: "Paris" })).reward).toBe(1);
    expect((await grade(check("ne"), "Paris", { answer: "Paris" })).reward).toBe(0);
  });

  it("like is substring containment (not SQL patterns), ilike ignores case", async () => {
    expect((await grade(check("like"), "The capital is Paris.", { answer: "Paris" })).reward).toBe(1);
    expect((await grade(check("like"), "The capital is paris.", { answer: "Paris" })).reward).toBe(0);
    expect((await grade(check("like"), "abc", { answer: "a%" })).reward).toBe(0);
    expect((await grade(check("ilike"), "THE CAPITAL IS PARIS", { answer: "paris" })).reward).toBe(1);
  });

  it("either side can hold the sample (the guide's tool-call example)", async () => {
    const g = check("eq", "get_acceptors", "{{sample.output_tools[0].function.name}}");
    const r = await grade(g, "x", {});
    expect(r.reward).toBe(0);
    expect(r.metadata.errors.invalid_variable_error).toBe(true);
  });

  it("returns the OpenAI result shape", async () => {
    const r = await grade(check("eq"), "Paris", { answer: "Paris" });
    expect(r).toMatchObject({ reward: 1, sub_rewards: {}, model_grader_token_usage_per_model: {} });
    expect(r.metadata).toMatchObject({
      name: "check",
      type: "string_check",
      errors: NO_ERRORS,
      scores: {},
      token_usage: null,
      sampled_model_name: null,
      error: null,
    });
    expect(typeof r.metadata.execution_time).toBe("number");
  });
});
