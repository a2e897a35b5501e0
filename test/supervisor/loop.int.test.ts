import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runJob } from "../../gpu-runner/supervisor/loop.ts";
import { FolderRunnerIO } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";
import { type TinyFixture, tinyFixture } from "./fixture.ts";
import { readJson, readJsonl, rlSpec, startCli, subset, tempDir, waitFor } from "./helpers.ts";

let fx: TinyFixture;
let work: string;
let train8: string;
let train64: string;

beforeAll(async () => {
  fx = await tinyFixture();
  work = await tempDir("sv-loop-");
  train8 = await subset(fx.train, path.join(work, "train8.jsonl"), 8); // 4 steps of 2 prompts
  // 32 steps: a pause written once step 1 is seen lands long before the end. With train8, a fast machine could run
  // steps 2-4 before the loop's next look at control.json; the run then succeeded and never paused (a CI failure).
  train64 = await subset(fx.train, path.join(work, "train64.jsonl"), 64);
});

const stepsOf = (dir: string) => readJsonl(path.join(dir, "metrics.jsonl")).map((m) => m.step);
const linesOf = (dir: string) =>
  readJsonl(path.join(dir, "metrics.jsonl"))
    .filter((m) => (m.step as number) > 0)
    .map((m) => m.batch_lines);

// Generous limits: a loaded 2-core machine can take a minute just to import torch.
describe("the RL loop on the real engine", { timeout: 600_000 }, () => {
  let reference: string;

  it("runs a few real steps: events, metrics with every number, a complete checkpoint", async () => {
    reference = path.join(work, "reference");
    const spec = parseSpec(rlSpec(fx, train8, reference));
    const result = await runJob(spec, { io: new FolderRunnerIO(reference) });
    expect(result).toEqual({ status: "succeeded", step: 4, totalSteps: 4 });

    const metrics = readJsonl(path.join(reference, "metrics.jsonl"));
    expect(metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect(metrics[0]!.valid_reward_mean).toBeTypeOf("number"); // the baseline, before step 1
    const s2 = metrics[2]!;
    for (const key of [
      "train_reward_mean",
      "valid_reward_mean",
      "kl",
      "entropy",
      "mean_response_length",
      "frac_zero_variance_groups",
      "grader_errors",
      "time_sample_s",
      "time_grade_s",
      "time_train_s",
      "tokens_per_s",
    ]) {
      expect(s2[key], key).toBeTypeOf("number");
    }
    expect(Number.isFinite(s2.train_loss as number) || s2.skipped).toBe(true);
    expect((s2.batch_lines as number[]).length).toBe(2);
    // Every training line is used exactly once in the epoch.
    expect(
      linesOf(reference)
        .flat()
        .sort((a, b) => (a as number) - (b as number)),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    for (const step of [2, 4]) {
      const ckpt = path.join(reference, "checkpoints", `step-${step}`);
      for (const f of ["merged/model.safetensors", "merged/config.json", "trainer_state.pt", "supervisor_state.json"]) {
        expect(existsSync(path.join(ckpt, f)), `${ckpt}/${f}`).toBe(true);
      }
    }
    expect(readJsonl(path.join(reference, "checkpoints.jsonl")).map((c) => c.step)).toEqual([2, 4]);
    const events = readJsonl(path.join(reference, "events.jsonl")).map((e) => e.message as string);
    expect(events[0]).toMatch(/reinforcement run started/);
    expect(events.some((m) => /step 0: validation reward mean/.test(m))).toBe(true);
    expect(events.at(-1)).toMatch(/finished all 4 steps/);
    expect(readJson(path.join(reference, "status.json"))).toMatchObject({ status: "succeeded", step: 4 });

    // Started again when already finished: says so, does nothing, stays succeeded.
    const again = await runJob(spec, { io: new FolderRunnerIO(reference) });
    expect(again).toEqual({ status: "succeeded", step: 4, totalSteps: 4 });
    expect(readJsonl(path.join(reference, "events.jsonl")).at(-1)!.message).toMatch(/nothing to do/);
  });

  it("resumes after SIGKILL of the supervisor at the exact data position", async () => {
    const out = path.join(work, "killed");
    const specFile = path.join(work, "killed.json");
    await writeFile(specFile, JSON.stringify(rlSpec(fx, train8, out, { checkpoint_interval: 1 })));

    const first = startCli(specFile);
    // Kill it as soon as step 2 is checkpointed: it is then already into step 3.
    await waitFor("checkpoint step-2", () => existsSync(path.join(out, "checkpoints", "step-2")));
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = startCli(specFile);
    const { code } = await second.exited;
    expect(code, second.output()).toBe(0);

    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "succeeded", step: 4 });
    const events = readJsonl(path.join(out, "events.jsonl")).map((e) => e.message as string);
    expect(events.some((m) => /resumed from step [23]/.test(m))).toBe(true);
    // Every step once, and the same batches in the same order as the uninterrupted run.
    expect(stepsOf(out)).toEqual([0, 1, 2, 3, 4]);
    expect(linesOf(out)).toEqual(linesOf(reference));
  });

  it("pauses and cancels between steps through control.json", async () => {
    const out = path.join(work, "paused");
    const specFile = path.join(work, "paused.json");
    await writeFile(specFile, JSON.stringify(rlSpec(fx, train64, out, { eval_interval: 0, checkpoint_interval: 0 })));
    const cli = startCli(specFile);
    await waitFor("step 1", () => stepsOf(out).includes(1));
    await writeFile(path.join(out, "control.json"), JSON.stringify({ action: "pause" }));
    await waitFor("paused status", () => {
      const status = readJson(path.join(out, "status.json"))?.status;
      if (status === "succeeded") throw new Error("the run ended before it read the pause");
      return status === "paused";
    });
    const pausedAt = (readJson(path.join(out, "status.json"))?.step as number) ?? 0;
    await new Promise((r) => setTimeout(r, 1500));
    expect(Math.max(...(stepsOf(out) as number[]))).toBe(pausedAt); // no step while paused
    await writeFile(path.join(out, "control.json"), JSON.stringify({ action: "cancel" }));
    const { code } = await cli.exited;
    expect(code, cli.output()).toBe(0);
    expect(readJson(path.join(out, "status.json"))).toMatchObject({ status: "cancelled", step: pausedAt });
    const events = readJsonl(path.join(out, "events.jsonl")).map((e) => e.message as string);
    expect(events).toContain(`paused after step ${pausedAt}`);
    expect(events).toContain(`cancelled after step ${pausedAt} of 32`);
  });
});
