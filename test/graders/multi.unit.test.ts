import { describe, expect, it } from "vitest";
import { type ChatModel, type Grader, gradeBatch, runGrader, sampleFromText } from "../../graders/index.ts";
import { grade, NO_ERRORS } from "./helpers.ts";

const sc = (reference: string) =>
  ({ type: "string_check", name: "s", input: "{{sample.output_text}}", reference, operation: "eq" }) as const;

describe("multi grader", () => {
  it("combines sub-rewards with calculate_output; keys are the variables", async () => {
    const g: Grader = {
      type: "multi",
      name: "combo",
      graders: {
        exact: sc("{{item.answer}}"),
        sim: {
          type: "text_similarity",
          name: "t",
          input: "{{sample.output_text}}",
          reference: "Paris France",
          evaluation_metric: "rouge_1",
        },
      },
      calculate_output: "0.5 * exact + 0.5 * sim",
    };
    const r = await grade(g, "Paris", { answer: "Paris" });
    // rouge_1("Paris", "Paris France"): P=1, R=1/2, F=2/3.
    expect(r.reward).toBeCloseTo(0.5 + (0.5 * 2) / 3, 12);
    expect(r.sub_rewards).toEqual({ exact: 1, sim: expect.closeTo(2 / 3, 12) });
    expect(r.metadata).toMatchObject({
      type: "multi",
      name: "combo",
      errors: NO_ERRORS,
      scores: r.sub_rewards,
      error: null,
    });
  });

  it("division by zero is a typed formula error with reward 0", async () => {
    const g: Grader = { type: "multi", name: "m", graders: { a: sc("no") }, calculate_output: "1 / a" };
    const r = await grade(g, "yes");
    expect(r.reward).toBe(0);
    expect(r.metadata.error).toEqual({ code: "formula_eval", message: "division by zero" });
    expect(r.sub_rewards).toEqual({ a: 0 });
  });

  it("an unparsable formula at run time sets formula_parse_error", async () => {
    const g: Grader = { type: "multi", name: "m", graders: { a: sc("x") }, calculate_output: "a +" };
    const r = await grade(g, "x");
    expect(r.metadata.errors).toEqual({ ...NO_ERRORS, formula_parse_error: true });
  });

  it("a failing sub-grader fails the whole grading and says which one", async () => {
    const g: Grader = {
      type: "multi",
      name: "m",
      graders: { a: sc("x"), b: sc("{{item.nope}}") },
      calculate_output: "a + b",
    };
    const r = await grade(g, "x");
    expect(r.reward).toBe(0);
    expect(r.metadata.error).toMatchObject({ code: "invalid_variable", grader: "b" });
    expect(r.metadata.errors.invalid_variable_error).toBe(true);
  });
});

describe("gradeBatch", () => {
  /** An in-process ChatModel stub (the HTTP adapter is tested against a real server in model-graders.int). */
  function slowChat(delayMs: number, stats: { active: number; peak: number }): ChatModel {
    return {
      async complete(req, opts) {
        stats.active++;
        stats.peak = Math.max(stats.peak, stats.active);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delayMs);
          opts?.signal?.addEventListener("abort", () => {
            clearTimeout(t);
            resolve();
          });
        });
        stats.active--;
        const text = typeof req.messages[0]!.content === "string" ? req.messages[0]!.content : "";
        return {
          ok: true,
          content: JSON.stringify({ steps: [], result: text.length % 2 }),
          refusal: null,
          model: req.model,
          usage: null,
        };
      },
    };
  }
  const scoreGrader: Grader = {
    type: "score_model",
    name: "judge",
    model: "m",
    input: [{ role: "user", content: "{{sample.output_text}}" }],
  };

  it("keeps results in order and bounds concurrency per grader type", async () => {
    const stats = { active: 0, peak: 0 };
    const inputs = Array.from({ length: 20 }, (_, i) => ({ sample: sampleFromText("x".repeat(i)) }));
    const rs = await gradeBatch(
      scoreGrader,
      inputs,
      { chat: slowChat(20, stats) },
      { concurrency: { score_model: 3 } },
    );
    expect(rs.map((r) => r.reward)).toEqual(inputs.map((_, i) => i % 2));
    expect(stats.peak).toBe(3);
  });

  it("times out slow samples individually (reward 0, unresponsive_reward_error), not the batch", async () => {
    const stats = { active: 0, peak: 0 };
    const t0 = Date.now();
    const rs = await gradeBatch(
      scoreGrader,
      [{ sample: sampleFromText("x") }],
      { chat: slowChat(5_000, stats) },
      { timeoutMs: 100 },
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(rs[0]!.reward).toBe(0);
    expect(rs[0]!.metadata.errors.unresponsive_reward_error).toBe(true);
    expect(rs[0]!.metadata.error).toMatchObject({ code: "timeout" });
  });

  it("grades local metrics in a batch", async () => {
    const rs = await gradeBatch(
      sc("{{item.a}}"),
      [
        { sample: sampleFromText("1"), item: { a: "1" } },
        { sample: sampleFromText("2"), item: { a: "1" } },
      ],
      {},
    );
    expect(rs.map((r) => r.reward)).toEqual([1, 0]);
  });

  it("grades local graders in order, as runGrader does, and lets timers run during a long batch", async () => {
    const grader: Grader = {
      type: "text_similarity",
      name: "sim",
      input: "{{sample.output_text}}",
      reference: "{{item.ref}}",
      evaluation_metric: "fuzzy_match",
      pass_threshold: 0.9,
    };
    const inputs = Array.from({ length: 20_000 }, (_, i) =>
      i % 997 === 5
        ? { sample: sampleFromText("no item, so no reference") }
        : {
            // About 150 characters a text: the batch takes well over the 20 ms after which it yields.
            sample: sampleFromText(`the quick brown fox ${i} jumps over the lazy dog `.repeat(3)),
            item: { ref: `the quick brown fox ${i % 13} jumps over the lazy dog `.repeat(3) },
          },
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const reported: number[] = [];
    const rs = await gradeBatch(grader, inputs, {}, { onResult: (i) => reported.push(i) });
    clearInterval(timer);
    const one = await Promise.all(inputs.slice(0, 1000).map((input) => runGrader(grader, input, {})));
    const view = (r: (typeof rs)[number]) => [r.reward, r.metadata.scores, r.metadata.error?.code ?? null];
    expect(rs.slice(0, 1000).map(view)).toEqual(one.map(view));
    expect(rs[5]!.metadata.errors.invalid_variable_error).toBe(true);
    expect(rs[1]!.metadata.scores).toEqual({ passed: true });
    expect(reported).toEqual(inputs.map((_, i) => i));
    expect(ticks).toBeGreaterThan(0);
  });

  it("never throws: a grader without its port is a typed error", async () => {
    const r = await runGrader(scoreGrader, { sample: sampleFromText("x") }, {});
    expect(r.reward).toBe(0);
    expect(r.metadata.error).toMatchObject({ code: "model_server" });
    expect(r.metadata.errors.model_grader_server_error).toBe(true);
  });
});
