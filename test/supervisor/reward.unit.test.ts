import { describe, expect, it } from "vitest";
import {
  gradeSamples,
  type RewardFn,
  renderTemplate,
  rewardFnFor,
  stringCheck,
} from "../../gpu-runner/supervisor/reward.ts";

const grader = stringCheck({
  type: "string_check",
  input: "{{sample.output_text}}",
  reference: "{{item.answer}}",
  operation: "eq",
});

describe("string_check", () => {
  it("renders the two template forms, nested paths included", () => {
    expect(
      renderTemplate(
        "{{ sample.output_text }}/{{item.answer}}/{{item.meta.k}}",
        { output_text: "a" },
        { answer: 4, meta: { k: "v" } },
      ),
    ).toBe("a/4/v");
    expect(renderTemplate("{{item.missing}}", { output_text: "" }, {})).toBe("");
  });

  it("gives 1 for an exact match and 0 otherwise", async () => {
    const out = await grader.grade(
      [{ output_text: "432" }, { output_text: "431" }],
      [{ answer: "432" }, { answer: "432" }],
    );
    expect(out.map((r) => r.reward)).toEqual([1, 0]);
  });
});

describe("gradeSamples", () => {
  const items = [{ answer: "1" }, { answer: "2" }, { answer: "3" }, { answer: "4" }];
  const samples = [{ output_text: "1" }, { output_text: "2" }, { output_text: "3" }, { output_text: "4" }];

  it("gives reward 0 and an error to a sample whose grader throws, and grades the rest", async () => {
    const throwing: RewardFn = {
      async grade(s, it) {
        if (s[0]!.output_text === "2") throw new Error("grader exploded");
        return grader.grade(s, it);
      },
    };
    const out = await gradeSamples(throwing, samples, items, { timeoutMs: 1000 });
    expect(out.rewards).toEqual([1, 0, 1, 1]);
    expect(out.errorCount).toBe(1);
    expect(out.errors[1]).toContain("grader exploded");
  });

  it("gives reward 0 to a sample whose grader hangs, after the per-sample timeout only", async () => {
    const hanging: RewardFn = {
      grade(s, it) {
        if (s[0]!.output_text === "3") return new Promise(() => {});
        return grader.grade(s, it);
      },
    };
    const t0 = Date.now();
    const out = await gradeSamples(hanging, samples, items, { timeoutMs: 200, concurrency: 4 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(out.rewards).toEqual([1, 1, 0, 1]);
    expect(out.errors[2]).toMatch(/timed out after 200 ms/);
  });

  it("rejects rewards that are not finite numbers instead of training on them", async () => {
    const bad: RewardFn = {
      async grade(s) {
        return s.map(() => ({ reward: Number.NaN }));
      },
    };
    const empty: RewardFn = {
      async grade() {
        return [];
      },
    };
    expect((await gradeSamples(bad, samples, items, { timeoutMs: 100 })).errorCount).toBe(4);
    const e = await gradeSamples(empty, samples, items, { timeoutMs: 100 });
    expect(e.rewards).toEqual([0, 0, 0, 0]);
    expect(e.errors[0]).toMatch(/no finite reward/);
  });

  it("keeps a grader's own error note alongside its reward", async () => {
    const noted: RewardFn = {
      async grade(s) {
        return s.map(() => ({ reward: 0.5, error: "partial parse" }));
      },
    };
    const out = await gradeSamples(noted, samples.slice(0, 1), items.slice(0, 1), { timeoutMs: 100 });
    expect(out.rewards).toEqual([0.5]);
    expect(out.errorCount).toBe(1);
  });
});

describe("rewardFnFor (graders library)", () => {
  it("grades with the spec's grader definition", async () => {
    const fn = rewardFnFor({
      type: "string_check",
      name: "x",
      input: "{{sample.output_text}}",
      reference: "{{item.answer}}",
      operation: "eq",
    });
    const out = await fn.grade([{ output_text: "5" }, { output_text: "6" }], [{ answer: "5" }, { answer: "5" }]);
    expect(out.map((r) => r.reward)).toEqual([1, 0]);
  });

  it("names the bad field of an invalid grader", () => {
    expect(() =>
      rewardFnFor({ type: "string_check", name: "x", input: "a", reference: "b", operation: "nope" }),
    ).toThrow(/grader\.operation/);
  });

  it("carries a grading error (a missing template variable) as a reward-0 error", async () => {
    const fn = rewardFnFor({
      type: "string_check",
      name: "x",
      input: "{{sample.output_text}}",
      reference: "{{item.missing}}",
      operation: "eq",
    });
    const out = await gradeSamples(fn, [{ output_text: "5" }], [{ answer: "5" }], { timeoutMs: 1000 });
    expect(out.rewards).toEqual([0]);
    expect(out.errorCount).toBe(1);
  });
});
