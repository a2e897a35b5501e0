import { describe, expect, it } from "vitest";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";

const base = {
  model: "/m",
  training_file: "/t.jsonl",
  output_dir: "/o",
  grader: { type: "string_check", input: "{{sample.output_text}}", reference: "{{item.answer}}", operation: "eq" },
  method: { type: "reinforcement", hyperparameters: {} },
};

describe("run spec", () => {
  it("fills defaults", () => {
    const s = parseSpec(base);
    expect(s.method.hyperparameters.n).toBe(8);
    expect(s.method.hyperparameters.loss).toBe("importance_sampling");
    expect(s.resume).toBe("auto");
    expect(s.runtime.grader_timeout_ms).toBe(30_000);
    expect(s.validation_file).toBeNull();
  });

  it("accepts samples_per_prompt as the group size", () => {
    const s = parseSpec({ ...base, method: { type: "reinforcement", hyperparameters: { samples_per_prompt: 4 } } });
    expect(s.method.hyperparameters.n).toBe(4);
    expect(() =>
      parseSpec({ ...base, method: { type: "reinforcement", hyperparameters: { n: 2, samples_per_prompt: 4 } } }),
    ).toThrow(/samples_per_prompt/);
  });

  it("names the bad field", () => {
    expect(() =>
      parseSpec({ ...base, method: { type: "reinforcement", hyperparameters: { learning_rate: -1 } } }),
    ).toThrow(/method\.hyperparameters\.learning_rate/);
    expect(() => parseSpec({ ...base, grader: null })).toThrow(/grader: a reinforcement run needs a grader/);
    expect(() => parseSpec({ ...base, method: { type: "dpo" } })).toThrow(/method\.type/);
  });

  it("lets a supervised run go without a grader and without LoRA", () => {
    const s = parseSpec({ ...base, grader: null, method: { type: "supervised", hyperparameters: { lora: null } } });
    expect(s.method.type).toBe("supervised");
    expect(s.method.hyperparameters.lora).toBeNull();
  });
});
