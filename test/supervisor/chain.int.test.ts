import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { runJob } from "../../gpu-runner/supervisor/loop.ts";
import { FolderRunnerIO } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";
import { type TinyFixture, tinyFixture } from "./fixture.ts";
import { readJson, readJsonl, rlSpec, subset, tempDir } from "./helpers.ts";

const STUB = path.join(path.dirname(fileURLToPath(import.meta.url)), "stub-engine.py");

let fx: TinyFixture;
let work: string;

beforeAll(async () => {
  fx = await tinyFixture();
  work = await tempDir("sv-chain-");
});

describe("supervised, then reinforcement from its checkpoint (real engine)", { timeout: 600_000 }, () => {
  it("runs SFT on the answers, then RL starting from the SFT checkpoint's merged weights", async () => {
    const sftTrain = await subset(fx.train, path.join(work, "sft.jsonl"), 4, (r) => ({
      messages: [...(r.messages as unknown[]), { role: "assistant", content: r.answer }],
    }));
    const sftOut = path.join(work, "sft");
    const sft = parseSpec({
      model: fx.model,
      training_file: sftTrain,
      output_dir: sftOut,
      method: { type: "supervised", hyperparameters: { batch_size: 2, learning_rate: 1e-3, lora: null } },
      runtime: { device: "cpu", dtype: "float32" },
    });
    expect(await runJob(sft, { io: new FolderRunnerIO(sftOut) })).toMatchObject({ status: "succeeded", step: 2 });
    const sftMetrics = readJsonl(path.join(sftOut, "metrics.jsonl"));
    expect(sftMetrics.map((m) => m.step)).toEqual([1, 2]);
    expect(Number.isFinite(sftMetrics[0]!.train_loss)).toBe(true);
    const merged = path.join(sftOut, "checkpoints", "step-2", "merged");
    expect(existsSync(path.join(merged, "model.safetensors"))).toBe(true);

    const rlOut = path.join(work, "rl");
    const rlTrain = await subset(fx.train, path.join(work, "rl.jsonl"), 2);
    const rl = parseSpec({ ...rlSpec(fx, rlTrain, rlOut, { eval_samples: 2 }), model: merged });
    expect(await runJob(rl, { io: new FolderRunnerIO(rlOut) })).toMatchObject({ status: "succeeded", step: 1 });
    expect(existsSync(path.join(rlOut, "checkpoints", "step-1", "merged", "model.safetensors"))).toBe(true);
  });
});

describe("engine death", { timeout: 600_000 }, () => {
  it("fails the run with the engine's exit code and last stderr lines (stand-in engine crashing in init)", async () => {
    const out = path.join(work, "crash");
    const spec = parseSpec({ ...rlSpec(fx, fx.train, out), model: "crash" });
    const result = await runJob(spec, { io: new FolderRunnerIO(out), engine: { script: STUB } });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/trainer engine exited with code 3 during 'init'/);
    expect(result.error).toContain("RuntimeError: CUDA out of memory (stub)");
    const status = readJson(path.join(out, "status.json"))!;
    expect(status.status).toBe("failed");
    expect(status.error).toContain("CUDA out of memory (stub)");
  });

  it("fails the run when the real engine is killed mid-run", async () => {
    const out = path.join(work, "killed-engine");
    const train = await subset(fx.train, path.join(work, "t20.jsonl"), 20);
    const spec = parseSpec(rlSpec(fx, train, out, { eval_interval: 0 }));
    const io = new FolderRunnerIO(out);
    let pid: number | undefined;
    const metrics = io.metrics.bind(io);
    io.metrics = async (m) => {
      await metrics(m);
      if (m.step === 1 && pid) process.kill(pid, "SIGKILL");
    };
    const result = await runJob(spec, { io, onEngineStart: (p) => (pid = p) });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/trainer engine was killed by SIGKILL/);
    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "failed" });
  });
});
