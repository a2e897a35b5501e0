/**
 * Dispatch benchmark, against named baselines, in one run on the same machine:
 *
 *  1. Time to first sample: from the job's `validate` message (what job creation sends) to the moment the engine
 *     starts its first `sample` (the loop's start event: engine initialised, baseline evaluation begins), through
 *     the whole chain: queue → validation → dispatch → local backend → remote-main.ts → spec → downloads → engine.
 *     Baseline: the same supervisor in folder mode (`main.ts --spec`, local files, no API, no queue), from spawn to
 *     the same event. The ratio is what the control plane costs before training starts. Measured twice: with the
 *     local backend's default of one warm runner (a supervisor with its engine up, waiting; the clock starts once
 *     it is up, as on an API that has been running a while) and with cold starts (`warmRunners: 0`).
 *  2. API overhead per step: what the loop does through its RunnerIO each step (heartbeat, a few events, one
 *     metrics record, flushed) over HTTP against the real API, vs the folder RunnerIO writing files. Printed
 *     as ms per step and as a share of a 0.03 s step (the tiny model's CPU step on an idle machine) and of the step
 *     measured in part 1; three readings (fresh process, steady state, paced steps), see `overheadPerStep`.
 *
 * Run: npx tsx bench/dispatch/run.ts [--quick] [--part 1|2]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { eq } from "drizzle-orm";
import { jobEvents, runs } from "../../db/schema/index.ts";
import { HttpRunnerIO, RunnerClient } from "../../gpu-runner/supervisor/http-io.ts";
import { findPython, REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";
import { FolderRunnerIO, type RunnerIO, type StepMetrics } from "../../gpu-runner/supervisor/runner-io.ts";
import { jobRow, seedJob, startRunnerServer, waitFor } from "../../test/runner/harness.ts";
import { type TinyFixture, tinyFixture } from "../../test/supervisor/fixture.ts";
import { createLocalBackend } from "../../workers/backends/local.ts";
import { createDispatcher } from "../../workers/dispatcher.ts";
import { startWorkers } from "../../workers/node.ts";

const quick = process.argv.includes("--quick");
/** `--part 1` or `--part 2` runs one part only. */
const part = process.argv.includes("--part") ? Number(process.argv[process.argv.indexOf("--part") + 1]) : null;
const lines = (file: string, n: number) =>
  `${readFileSync(file, "utf8").split("\n").filter(Boolean).slice(0, n).join("\n")}\n`;
const HP = {
  n_epochs: 1,
  batch_size: 2,
  n: 4,
  learning_rate: 1e-3,
  eval_interval: 2,
  eval_samples: 4,
  max_tokens: 5,
  temperature: 1,
  checkpoint_interval: 2,
  lora: { rank: 4, alpha: 8, dropout: 0, target_modules: "all-linear" },
  seed: 3,
};
const isStart = (m: string) => / run (started|resumed from step \d+): /.test(m);

/** `n` jobs through the API with the local backend keeping `warmRunners` runners warm; seconds to the first sample. */
async function viaApi(
  fx: TinyFixture,
  warmRunners: number,
  n: number,
  label: string,
): Promise<{ times: number[]; stepSeconds: number }> {
  const server = await startRunnerServer();
  const backend = createLocalBackend({
    dataDir: server.dataDir,
    env: { RFT_DEVICE: "cpu", RFT_DTYPE: "float32" },
    stopRunsOnClose: true,
    warmRunners,
  });
  const workers = startWorkers(server.deps, {
    queue: server.queue,
    apiBaseUrl: server.origin,
    dataDir: server.dataDir,
    backend,
    pollMs: 500,
    log: () => {},
  });
  const times: number[] = [];
  let stepSeconds = 0;
  try {
    for (let i = 0; i < n; i++) {
      const seeded = await seedJob(server.deps, {
        status: "validating_files",
        model: "tiny-arith",
        modelDir: fx.model,
        trainingText: lines(fx.train, 4),
        validationText: lines(fx.valid, 4),
        totalSteps: 2,
        resolved: { ...HP, total_steps: 2 },
      });
      // An API that has been up a while: its warm runner (if any) has its engine up.
      await backend.whenWarm();
      const t0 = performance.now();
      await server.queue.send({ kind: "validate", jobId: seeded.jobId });
      const marks: Record<string, number> = {};
      const mark = (name: string) => {
        marks[name] ??= performance.now() - t0;
      };
      await waitFor(
        async () => {
          const job = await jobRow(server.deps, seeded.jobId);
          if (job.status === "queued") mark("queued");
          const run = (await server.deps.db.select().from(runs).where(eq(runs.jobId, seeded.jobId)))[0];
          if (run) mark("launched");
          if (run?.status === "running") mark("spec fetched");
          const events = await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId));
          if (events.some((e) => e.message.startsWith("Runner ready"))) mark("downloads done");
          if (events.some((e) => isStart(e.message))) mark("first sample");
          return marks["first sample"] !== undefined;
        },
        300_000,
        "the first sample",
        10,
      );
      times.push(marks["first sample"]! / 1000);
      console.log(
        `  via the API (${label}), run ${i + 1}: ${Object.entries(marks)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`)
          .join(", ")}`,
      );
      const done = await waitFor(async () => {
        const j = await jobRow(server.deps, seeded.jobId);
        return j.status === "succeeded" || j.status === "failed" ? j : null;
      }, 600_000);
      const metrics = (await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId)))
        .filter((e) => e.type === "metrics" && (e.data as { step: number }).step > 0)
        .map((e) => (e.data as { timing: { step: { full_iteration?: number } } }).timing.step.full_iteration ?? 0);
      if (done.status === "succeeded" && metrics.length)
        stepSeconds = metrics.reduce((a, b) => a + b, 0) / metrics.length;
    }
  } finally {
    await workers.stop();
    await server.stop();
  }
  return { times, stepSeconds };
}

/** Baseline: folder mode on the same files, same hyperparameters, from spawn to the same event. */
async function folderMode(fx: TinyFixture, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), "bench-dispatch-folder-"));
    writeFileSync(path.join(dir, "train.jsonl"), lines(fx.train, 4));
    writeFileSync(path.join(dir, "valid.jsonl"), lines(fx.valid, 4));
    const spec = {
      model: fx.model,
      training_file: "train.jsonl",
      validation_file: "valid.jsonl",
      grader: {
        type: "string_check",
        name: "exact",
        input: "{{sample.output_text}}",
        reference: "{{item.answer}}",
        operation: "eq",
      },
      method: { type: "reinforcement", hyperparameters: HP },
      output_dir: "out",
      runtime: { device: "cpu", dtype: "float32" },
    };
    writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec));
    const f0 = performance.now();
    const child = spawn(
      path.join(REPO_ROOT, "node_modules/.bin/tsx"),
      [path.join(REPO_ROOT, "gpu-runner/supervisor/main.ts"), "--spec", path.join(dir, "spec.json")],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const seen = await new Promise<number>((resolve, reject) => {
      let buf = "";
      child.stderr.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.split("\n").some(isStart)) resolve(performance.now() - f0);
      });
      child.on("exit", () => reject(new Error(`folder-mode supervisor exited before starting:\n${buf}`)));
    });
    times.push(seen / 1000);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
    console.log(`  folder mode, run ${i + 1}: first sample ${(seen / 1000).toFixed(2)} s`);
  }
  return times;
}

/**
 * One step's reporting as the loop does it: heartbeat, two events, one metrics record; then everything flushed.
 * With `stepMs`, each step first works that long (a sleep standing in for the engine, which is another process);
 * the time spent in it is subtracted, so what is left is what reporting adds to a step.
 */
async function reportSteps(io: RunnerIO, steps: number, flush: () => Promise<void>, stepMs = 0): Promise<number> {
  await io.begin({ totalSteps: steps, resumedFromStep: 0 });
  const t0 = performance.now();
  let working = 0;
  for (let step = 1; step <= steps; step++) {
    await io.heartbeat({ step: step - 1, totalSteps: steps, status: "running" });
    if (stepMs > 0) {
      const w = performance.now();
      await sleep(stepMs);
      working += performance.now() - w;
    }
    await io.emit([
      { level: "info", message: `step ${step}: sampled 8 completions` },
      { level: "warn", message: `step ${step}: 1 grader error`, data: { step } },
    ]);
    const m: StepMetrics = {
      step,
      total_steps: steps,
      epoch: 1,
      learning_rate: 1e-3,
      step_time_s: 1,
      train_reward_mean: 0.5,
      train_loss: 0.1,
      batch_lines: [1, 2],
    };
    await io.metrics(m);
  }
  await flush();
  return (performance.now() - t0 - working) / steps;
}

type Overhead = { fresh: number; steady: number; paced: number };

/**
 * Three readings, each on a new run: `fresh`, 150 instant steps as the first thing this process does (the API and
 * the client not yet warmed up: the reading of earlier versions of this bench); `steady`, 500 instant steps after
 * that (a long run on a long-running API); `paced`, 100 steps of 30 ms each (a tiny-model CPU step), where the
 * loop's waits on the network show. The API runs in this process, so its work (storing every event) counts too.
 */
async function overheadPerStep(): Promise<{ http: Overhead; folder: Overhead }> {
  const server = await startRunnerServer();
  try {
    const httpIO = async (steps: number) => {
      const seeded = await seedJob(server.deps, { totalSteps: steps });
      let token = "";
      const dispatcher = createDispatcher({
        db: server.deps.db,
        apiBaseUrl: server.origin,
        backend: {
          name: "bench",
          launch: async (run) => {
            token = run.token;
            return { ref: run.runId };
          },
          cancel: async () => {},
          inspect: async () => "running",
        },
      });
      await dispatcher.dispatch(seeded.jobId);
      const client = new RunnerClient({ apiUrl: server.origin, token });
      await client.spec();
      return new HttpRunnerIO(client);
    };
    const viaHttp = async (steps: number, stepMs = 0) => {
      const io = await httpIO(steps);
      const ms = await reportSteps(io, steps, () => io.flush(), stepMs);
      await io.close();
      return ms;
    };
    const viaFolder = async (steps: number, stepMs = 0) => {
      const dir = mkdtempSync(path.join(tmpdir(), "bench-dispatch-io-"));
      const ms = await reportSteps(new FolderRunnerIO(dir), steps, async () => {}, stepMs);
      rmSync(dir, { recursive: true, force: true });
      return ms;
    };
    const http: Overhead = {
      fresh: await viaHttp(quick ? 30 : 150),
      steady: await viaHttp(quick ? 100 : 500),
      paced: await viaHttp(quick ? 30 : 100, 30),
    };
    const folder: Overhead = {
      fresh: await viaFolder(quick ? 30 : 150),
      steady: await viaFolder(quick ? 100 : 500),
      paced: await viaFolder(quick ? 30 : 100, 30),
    };
    return { http, folder };
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Part 1; returns the mean CPU step of the tiny model it saw (seconds), 0 when it could not run. */
async function partOne(): Promise<number> {
  console.log("1. time from job creation to the engine's first sample (local backend, tiny model on CPU)");
  try {
    findPython();
    const fx = await tinyFixture();
    const n = quick ? 1 : 3;
    const warm = await viaApi(fx, 1, n, "one warm runner, the default");
    const cold = await viaApi(fx, 0, n, "cold start");
    const folder = await folderMode(fx, n);
    const f = median(folder);
    for (const [name, r] of [
      ["warm runner", warm],
      ["cold start", cold],
    ] as const) {
      const t = median(r.times);
      console.log(
        `time to first sample, ${name}: via the API ${t.toFixed(2)} s, folder mode ${f.toFixed(2)} s (baseline); ratio ${(t / f).toFixed(2)}x`,
      );
    }
    return warm.stepSeconds || cold.stepSeconds;
  } catch (err) {
    console.log(`  skipped: ${(err as Error).message.split("\n")[0]}`);
    return 0;
  }
}

async function main() {
  const stepSeconds = part === 2 ? 0 : await partOne();
  if (part === 1) return;
  console.log("\n2. reporting overhead per step (heartbeat + 2 events + 1 metrics record)");
  const o = await overheadPerStep();
  const share = (ms: number, stepS: number) => `${((ms / 1000 / stepS) * 100).toFixed(2)} % of a ${stepS} s step`;
  for (const [name, key] of [
    ["fresh process, 150 instant steps", "fresh"],
    ["steady state, 500 instant steps", "steady"],
    ["100 steps of 30 ms", "paced"],
  ] as const) {
    const http = o.http[key];
    const measured = stepSeconds > 0 ? `, ${share(http, Number(stepSeconds.toFixed(2)))} (measured in part 1)` : "";
    console.log(
      `API overhead per step, ${name}: HTTP RunnerIO ${http.toFixed(2)} ms vs folder RunnerIO ${o.folder[key].toFixed(2)} ms (baseline); ${share(http, 0.03)}${measured}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
