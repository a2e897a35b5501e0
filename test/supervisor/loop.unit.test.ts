import { readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EngineOpError } from "../../gpu-runner/supervisor/engine-client.ts";
import type { ForwardBackwardArgs } from "../../gpu-runner/supervisor/engine-schemas.ts";
import { type EngineHandle, runJob } from "../../gpu-runner/supervisor/loop.ts";
import type { RewardFn } from "../../gpu-runner/supervisor/reward.ts";
import { FolderRunnerIO } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec, type RunSpecInput } from "../../gpu-runner/supervisor/spec.ts";
import { readJson, readJsonl, tempDir } from "./helpers.ts";

/**
 * A scripted stand-in for the engine process (the real one is exercised in loop.int.test.ts): it lets these
 * tests drive the loop's control flow (non-finite losses, no-signal batches, grader failures) on demand.
 */
class ScriptedEngine implements EngineHandle {
  readonly pid = undefined;
  readonly calls: ForwardBackwardArgs[] = [];
  private poisoned = false;
  constructor(
    private readonly answer: (prompt: string, j: number) => string,
    private readonly lossFor: (call: number) => number | "nan_error" = () => 0.5,
  ) {}
  async init() {
    return {
      model_type: "scripted",
      n_params: 1,
      n_trainable: 1,
      vocab_size: 10,
      device: "cpu",
      dtype: "float32",
      step: 0,
      eos_token_ids: [1],
    };
  }
  async sample(args: Parameters<EngineHandle["sample"]>[0]) {
    return {
      results: args.prompts.map((p) => ({
        prompt_token_ids: [5, 6],
        completions: Array.from({ length: args.n }, (_, j) => ({
          text: this.answer(p.messages.at(-1)!.content, j),
          token_ids: [2, 3],
          logprobs: [-0.5, -0.7],
          finish_reason: "stop" as const,
        })),
      })),
    };
  }
  async forwardBackward(args: ForwardBackwardArgs) {
    this.calls.push(args);
    const loss = this.lossFor(this.calls.length);
    if (loss === "nan_error") {
      this.poisoned = true;
      throw new EngineOpError("forward_backward", "nan_loss", "the loss is not finite");
    }
    return {
      loss,
      n_sequences: args.sequences.length,
      n_tokens: 2 * args.sequences.length,
      entropy: 1,
      kl: 0,
      clip_fraction: 0,
    };
  }
  async optimStep() {
    const skipped = this.poisoned;
    this.poisoned = false;
    return { step: this.calls.length, grad_norm: skipped ? Number.NaN : 1, skipped };
  }
  async save(args: { path: string }) {
    await mkdir(args.path, { recursive: true });
    await writeFile(path.join(args.path, "trainer_state.pt"), "x");
    return { path: args.path, files: [{ name: "trainer_state.pt", bytes: 1 }] };
  }
  async exportOnnx(args: { path: string }) {
    await mkdir(args.path, { recursive: true });
    await writeFile(path.join(args.path, "model.onnx"), "x");
    return { path: args.path, files: [{ name: "model.onnx", bytes: 1 }] };
  }
  async shutdown() {}
}

async function setup(hp: Record<string, unknown> = {}, method: "reinforcement" | "supervised" = "reinforcement") {
  const dir = await tempDir("sv-loopu-");
  const train = path.join(dir, "train.jsonl");
  const rows = Array.from({ length: 8 }, (_, i) => ({
    messages: [
      { role: "user", content: `q${i}` },
      ...(method === "supervised" ? [{ role: "assistant", content: `a${i}` }] : []),
    ],
    answer: `a${i}`,
  }));
  await writeFile(train, rows.map((r) => JSON.stringify(r)).join("\n"));
  const input: RunSpecInput = {
    model: "/scripted",
    training_file: train,
    validation_file: train,
    output_dir: path.join(dir, "out"),
    grader: {
      type: "string_check",
      name: "eq",
      input: "{{sample.output_text}}",
      reference: "{{item.answer}}",
      operation: "eq",
    },
    method: { type: method, hyperparameters: { batch_size: 2, n: 2, eval_interval: 0, checkpoint_interval: 0, ...hp } },
    runtime: { grader_timeout_ms: 200 },
  };
  const spec = parseSpec(input);
  return { spec, out: spec.output_dir, io: new FolderRunnerIO(spec.output_dir) };
}

const rightOnEvenJ = (p: string, j: number) => (j % 2 === 0 ? p.replace("q", "a") : "wrong");
const messages = (out: string) => readJsonl(path.join(out, "events.jsonl")).map((e) => e.message as string);

describe("the loop's control flow (scripted engine)", () => {
  it("skips a step with a non-finite loss, and fails clearly after 3 in a row", async () => {
    const { spec, out, io } = await setup({ n_epochs: 2 });
    const engine = new ScriptedEngine(rightOnEvenJ, (call) => (call === 1 || call >= 3 ? "nan_error" : 0.5));
    const result = await runJob(spec, { io, startEngine: async () => engine });
    expect(result.status).toBe("failed");
    expect(result.step).toBe(5);
    expect(result.error).toMatch(
      /training diverged: the loss was not finite for 3 steps in a row \(steps 3-5\); lower the learning rate/,
    );
    const metrics = readJsonl(path.join(out, "metrics.jsonl"));
    expect(metrics.filter((m) => m.step !== 0).map((m) => m.skipped ?? false)).toEqual([true, false, true, true, true]);
    expect(messages(out).filter((m) => /loss was not finite; the update was skipped/.test(m))).toHaveLength(4);
    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "failed" });
  });

  it("makes no update from a batch where every group got equal rewards, and says why", async () => {
    const { spec, out, io } = await setup({ n_epochs: 1 });
    const engine = new ScriptedEngine(() => "wrong");
    const result = await runJob(spec, { io, startEngine: async () => engine });
    expect(result.status).toBe("succeeded");
    expect(engine.calls).toHaveLength(0);
    const m = readJsonl(path.join(out, "metrics.jsonl")).find((x) => x.step === 1)!;
    expect(m).toMatchObject({ frac_zero_variance_groups: 1, skipped: true, train_reward_mean: 0 });
    expect(messages(out).some((x) => /same reward .* nothing to learn from/.test(x))).toBe(true);
  });

  it("gives reward 0 to samples whose grader throws or hangs, counts them, and goes on", async () => {
    const { spec, out, io } = await setup();
    let calls = 0;
    const flaky: RewardFn = {
      grade(samples) {
        calls++;
        if (calls % 5 === 0) return new Promise(() => {}); // hangs past grader_timeout_ms
        if (calls % 3 === 0) return Promise.reject(new Error("grader crashed"));
        return Promise.resolve(samples.map((s) => ({ reward: s.output_text === "wrong" ? 0 : 1 })));
      },
    };
    const engine = new ScriptedEngine(rightOnEvenJ);
    const result = await runJob(spec, { io, rewardFn: flaky, startEngine: async () => engine });
    expect(result.status).toBe("succeeded");
    const metrics = readJsonl(path.join(out, "metrics.jsonl")).filter((m) => m.step !== 0);
    expect(metrics.reduce((s, m) => s + (m.grader_errors as number), 0)).toBeGreaterThan(0);
    const warnings = messages(out).filter((x) => /could not be graded and got reward 0/.test(x));
    expect(warnings.some((w) => /timed out after 200 ms/.test(w))).toBe(true);
    expect(warnings.some((w) => /grader crashed/.test(w))).toBe(true);
  });

  it("sends advantages that are mean-centred per group, and the sampling temperature", async () => {
    const { spec, io } = await setup({ temperature: 0.7 });
    const engine = new ScriptedEngine(rightOnEvenJ);
    await runJob(spec, { io, startEngine: async () => engine });
    const first = engine.calls[0]!;
    expect(first.loss).toBe("importance_sampling");
    if (first.loss === "cross_entropy") throw new Error("unreachable");
    expect(first.temperature).toBe(0.7);
    expect(first.sequences.map((s) => Number(s.advantage.toFixed(4)))).toEqual([1, -1, 1, -1]);
    expect(first.sequences[0]!.sampling_logprobs).toEqual([-0.5, -0.7]);
  });

  it("trains supervised on the messages, and names the line of an example with nothing to learn", async () => {
    const { spec, out, io } = await setup({}, "supervised");
    const engine = new ScriptedEngine(rightOnEvenJ);
    const result = await runJob(spec, { io, startEngine: async () => engine });
    expect(result.status).toBe("succeeded");
    expect(engine.calls[0]).toMatchObject({ loss: "cross_entropy" });
    expect(readJsonl(path.join(out, "metrics.jsonl")).find((m) => m.step === 1)).toMatchObject({ train_loss: 0.5 });

    const bad = await setup({}, "supervised");
    await writeFile(bad.spec.training_file, `${JSON.stringify({ messages: [{ role: "user", content: "hi" }] })}\n`);
    const r = await runJob(bad.spec, { io: bad.io, startEngine: async () => new ScriptedEngine(rightOnEvenJ) });
    expect(r.error).toMatch(
      /train\.jsonl line 1: a supervised example needs at least one message with role 'assistant'/,
    );
  });

  it("stops early, as a success with a final checkpoint, at the time limit", async () => {
    const { spec, out, io } = await setup({ n_epochs: 50 });
    spec.runtime.max_duration_s = 0.05;
    const slow = new ScriptedEngine(rightOnEvenJ);
    const fb = slow.forwardBackward.bind(slow);
    slow.forwardBackward = async (a) => {
      await new Promise((r) => setTimeout(r, 30));
      return fb(a);
    };
    const result = await runJob(spec, { io, startEngine: async () => slow });
    expect(result.status).toBe("succeeded");
    expect(result.step).toBeLessThan(result.totalSteps);
    expect(messages(out).some((m) => /stopping after step \d+ of 200: the time limit/.test(m))).toBe(true);
    expect(readJsonl(path.join(out, "checkpoints.jsonl")).map((c) => c.step)).toEqual([result.step]);
  });

  it("keeps only the newest checkpoints, and heartbeats during a long step", async () => {
    const { spec, out, io } = await setup({ checkpoint_interval: 1 });
    spec.runtime.keep_checkpoints = 2;
    spec.runtime.heartbeat_interval_ms = 5;
    const slow = new ScriptedEngine(rightOnEvenJ);
    const fb = slow.forwardBackward.bind(slow);
    slow.forwardBackward = async (a) => {
      await new Promise((r) => setTimeout(r, 40));
      return fb(a);
    };
    let beats = 0;
    const heartbeat = io.heartbeat.bind(io);
    io.heartbeat = (p) => {
      beats++;
      return heartbeat(p);
    };
    const result = await runJob(spec, { io, startEngine: async () => slow });
    expect(result.status).toBe("succeeded");
    expect(readdirSync(path.join(out, "checkpoints")).sort()).toEqual(["step-3", "step-4"]);
    expect(beats).toBeGreaterThan(4 + 4); // one per step boundary, and more during the slow steps
    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "succeeded" });
  });
  it("on_pause exit: saves a checkpoint of the step just done, ends as paused, and a new run resumes right after it", async () => {
    const { spec, out, io } = await setup({ checkpoint_interval: 3 });
    spec.runtime.on_pause = "exit";
    const control = path.join(out, "control.json");
    const engine = new ScriptedEngine(rightOnEvenJ);
    const fb = engine.forwardBackward.bind(engine);
    engine.forwardBackward = async (a) => {
      // Asked to pause during step 2: the loop finishes the step, then stops.
      if (engine.calls.length === 1) await writeFile(control, JSON.stringify({ action: "pause" }));
      return fb(a);
    };
    const paused = await runJob(spec, { io, startEngine: async () => engine });
    expect(paused).toMatchObject({ status: "paused", step: 2, totalSteps: 4 });
    expect(readJsonl(path.join(out, "checkpoints.jsonl")).map((c) => c.step)).toEqual([2]);
    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "paused", step: 2 });
    expect(messages(out)).toContain(
      "paused after step 2 of 4 (checkpoint saved at step 2); resuming continues at step 3; the runner stops and frees its machine",
    );

    await writeFile(control, JSON.stringify({ action: "continue" }));
    const second = new ScriptedEngine(rightOnEvenJ);
    const resumed = await runJob(spec, { io, startEngine: async () => second });
    expect(resumed).toMatchObject({ status: "succeeded", step: 4 });
    const steps = readJsonl(path.join(out, "metrics.jsonl")).map((m) => [m.step, m.batch_lines]);
    // Every step once, and steps 3-4 read the same lines an uninterrupted run reads (the order is seeded).
    const { spec: fresh, io: freshIo, out: freshOut } = await setup({ checkpoint_interval: 3 });
    await runJob(
      { ...fresh, training_file: spec.training_file },
      { io: freshIo, startEngine: async () => new ScriptedEngine(rightOnEvenJ) },
    );
    expect(steps).toEqual(readJsonl(path.join(freshOut, "metrics.jsonl")).map((m) => [m.step, m.batch_lines]));
    expect(readJsonl(path.join(out, "checkpoints.jsonl")).map((c) => c.step)).toEqual([2, 3, 4]);
  });
});
