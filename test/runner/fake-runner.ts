/**
 * fake-runner: a runner that speaks the real runner protocol through the real client (`RunnerClient`,
 * `HttpRunnerIO` from gpu-runner/supervisor/http-io.ts) but has NO trainer engine. It is a fake because no GPU
 * engine can run in these tests; it stands in for `remote-main.ts` + `loop.ts`.
 *
 * What it does for real: fetches the spec, downloads every file it names (training, validation, base model,
 * resume checkpoint) and checks their sizes, heartbeats and obeys continue/pause/cancel between steps, posts
 * events and per-step metrics, writes checkpoint folders and uploads them through the upload URLs, registers
 * them, and posts the final status.
 * Its limits: the "training" is a sleep, the metrics are made-up numbers, checkpoint files are random bytes
 * (plus a `supervisor_state.json`), and it never starts an engine, so engine crashes are not exercised here.
 *
 * As a program (what the local backend launches in the dispatch tests):
 *   tsx test/runner/fake-runner.ts --api URL [--work-dir D]   (token in RFT_RUN_TOKEN)
 * with FAKE_RUNNER_STEP_MS (time per step), FAKE_RUNNER_CRASH_AT_STEP (exit(1) without a status, first attempt only).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { HttpRunnerIO, type RemoteSpec, RunnerClient } from "../../gpu-runner/supervisor/http-io.ts";

export interface FakeRunnerOptions {
  apiUrl: string;
  token: string;
  workDir?: string;
  stepMs?: number;
  /** Exit the process (no final status) when this step starts, on attempt 1 only. */
  crashAtStep?: number;
  /** Throw (no final status) when this step starts, for in-process tests of a lost runner. */
  abandonAtStep?: number;
  heartbeatIntervalMs?: number;
  checkpointEvery?: number;
  onStep?: (step: number) => void | Promise<void>;
}

export interface FakeRunnerResult {
  status: "succeeded" | "cancelled" | "abandoned";
  spec: RemoteSpec;
  downloadedBytes: number;
  steps: number[];
}

export async function runFakeRunner(options: FakeRunnerOptions): Promise<FakeRunnerResult> {
  const client = new RunnerClient({
    apiUrl: options.apiUrl,
    token: options.token,
    retry: { deadlineMs: 10_000 },
    log: () => {},
  });
  const spec = await client.spec();
  const workDir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), "fake-runner-")));
  const io = new HttpRunnerIO(client, {
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? spec.heartbeat_interval_ms,
    flushMs: 50,
    // Its steps take no time: ask the API after every step, so the control tests can name the exact step.
    minHeartbeatGapMs: 0,
  });
  io.startKeepalive(spec.resume?.step ?? 0);

  let downloadedBytes = 0;
  const all = [
    spec.training_file,
    ...(spec.validation_file ? [spec.validation_file] : []),
    ...spec.model.files,
    ...(spec.resume?.files ?? []),
  ];
  for (const [i, f] of all.entries()) {
    const dest = path.join(workDir, "downloads", String(i), ...f.name.split("/"));
    await client.download(f, dest);
    downloadedBytes += statSync(dest).size;
  }

  const total = spec.total_steps ?? 4;
  const start = spec.resume?.step ?? 0;
  const every = options.checkpointEvery ?? Number(spec.method.hyperparameters.checkpoint_interval ?? 2);
  await io.begin({ totalSteps: total, resumedFromStep: start });
  await io.emit([
    { level: "info", message: `fake-runner started at step ${start} of ${total} (attempt ${spec.run.attempt})` },
  ]);
  const steps: number[] = [];
  for (let step = start + 1; step <= total; step++) {
    if (options.crashAtStep === step && spec.run.attempt === 1) process.exit(1);
    if (options.abandonAtStep === step) {
      await io.close();
      return { status: "abandoned", spec, downloadedBytes, steps };
    }
    let action = await io.heartbeat({ step: step - 1, totalSteps: total, status: "running" });
    while (action === "pause") {
      await sleep(50);
      action = await io.heartbeat({ step: step - 1, totalSteps: total, status: "paused" });
    }
    if (action === "cancel") {
      await io.finish("cancelled");
      return { status: "cancelled", spec, downloadedBytes, steps };
    }
    await sleep(options.stepMs ?? 10);
    await options.onStep?.(step);
    steps.push(step);
    await io.metrics({
      step,
      total_steps: total,
      epoch: 1,
      learning_rate: 1e-3,
      step_time_s: 0.5,
      tokens_per_s: 200,
      train_reward_mean: step / total,
      ...(step % 2 === 0 ? { valid_reward_mean: step / total / 2 } : {}),
      train_loss: 1 / step,
      batch_lines: [1, 2],
    });
    if (step % every === 0 || step === total) {
      const dir = path.join(workDir, "output", "checkpoints", `step-${step}`);
      mkdirSync(path.join(dir, "merged"), { recursive: true });
      writeFileSync(path.join(dir, "merged", "model.safetensors"), randomBytes(32 * 1024 + step));
      writeFileSync(path.join(dir, "supervisor_state.json"), JSON.stringify({ version: 1, step, total_steps: total }));
      const files = ["merged/model.safetensors", "supervisor_state.json"].map((name) => ({
        name,
        bytes: statSync(path.join(dir, ...name.split("/"))).size,
      }));
      await io.checkpoint({ step, path: dir, files, metrics: { step, train_reward_mean: step / total } });
    }
  }
  await io.emit([{ level: "info", message: `fake-runner finished all ${total} steps` }]);
  await io.finish("succeeded");
  await io.close();
  return { status: "succeeded", spec, downloadedBytes, steps };
}

// As a program: what the local backend starts in place of remote-main.ts.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const { values } = parseArgs({ options: { api: { type: "string" }, "work-dir": { type: "string" } } });
  const env = process.env;
  runFakeRunner({
    apiUrl: values.api ?? env.RFT_API_URL ?? "",
    token: env.RFT_RUN_TOKEN ?? "",
    ...(values["work-dir"] ? { workDir: values["work-dir"] } : {}),
    ...(env.FAKE_RUNNER_STEP_MS ? { stepMs: Number(env.FAKE_RUNNER_STEP_MS) } : {}),
    ...(env.FAKE_RUNNER_CRASH_AT_STEP ? { crashAtStep: Number(env.FAKE_RUNNER_CRASH_AT_STEP) } : {}),
  }).then(
    (r) => {
      process.stderr.write(`fake-runner: ${r.status} (${r.steps.length} steps)\n`);
      process.exitCode = 0;
    },
    (err) => {
      process.stderr.write(`fake-runner: ${(err as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
