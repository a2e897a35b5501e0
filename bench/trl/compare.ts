/**
 * Throughput against TRL: the supervisor + engine versus TRL's GRPOTrainer (bench/trl/grpo.py) on the same
 * tiny model, data, prompts per step, group size, completion length and number of steps, on this machine.
 *
 *   npx tsx bench/trl/compare.ts [--steps 10] [--batch 8] [--n 8] [--max-tokens 8]
 *
 * samples/s = completions generated and trained on per second of training steps (model loading excluded on
 * both sides: the sum of our step times; TRL's trainer.train()). Last line:
 * `samples/s ours=<x> trl=<y> ratio=<x/y>`.
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runJob } from "../../gpu-runner/supervisor/loop.ts";
import { findPython, REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";
import { FolderRunnerIO, type StepMetrics } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";
import { DEFAULT_TINY_DIR, ensureTinyModel } from "../rl/tiny.ts";

const { values: a } = parseArgs({
  options: {
    steps: { type: "string", default: "10" },
    batch: { type: "string", default: "8" },
    n: { type: "string", default: "8" },
    "max-tokens": { type: "string", default: "8" },
    lr: { type: "string", default: "3e-4" },
    fixture: { type: "string", default: DEFAULT_TINY_DIR },
    out: { type: "string", default: path.join(REPO_ROOT, ".tmp", "bench-trl") },
  },
});

// Both sides get the same torch thread count (1 unless set: measured fastest for this model here).
const THREADS = process.env.RFT_ENGINE_THREADS ?? "1";

class StepTimes extends FolderRunnerIO {
  readonly times: number[] = [];
  override async metrics(step: StepMetrics): Promise<void> {
    if (step.step > 0) this.times.push(step.step_time_s);
    await super.metrics(step);
  }
}

async function ours(fx: ReturnType<typeof ensureTinyModel>, steps: number, batch: number, n: number): Promise<number> {
  const out = path.join(path.resolve(a.out), "ours");
  rmSync(out, { recursive: true, force: true });
  const spec = parseSpec({
    model: fx.model,
    training_file: fx.train,
    output_dir: out,
    grader: {
      type: "string_check",
      name: "exact",
      input: "{{sample.output_text}}",
      reference: "{{item.answer}}",
      operation: "eq",
    },
    method: {
      type: "reinforcement",
      hyperparameters: {
        batch_size: batch,
        n,
        max_tokens: Number(a["max-tokens"]),
        learning_rate: Number(a.lr),
        eval_interval: 0,
        checkpoint_interval: 0,
        lora: null,
      },
    },
    runtime: { device: "cpu", dtype: "float32" },
  });
  const io = new StepTimes(out);
  // Stop after `steps` steps: cancel at the heartbeat before the next one.
  const heartbeat = io.heartbeat.bind(io);
  io.heartbeat = async (p) => (p.step >= steps ? "cancel" : heartbeat(p));
  const result = await runJob(spec, { io, engine: { env: { RFT_ENGINE_THREADS: THREADS } } });
  if (result.status === "failed") throw new Error(`our run failed: ${result.error}`);
  const seconds = io.times.reduce((s, t) => s + t, 0);
  return (io.times.length * batch * n) / seconds;
}

function trl(fx: ReturnType<typeof ensureTinyModel>, steps: number, batch: number, n: number): number {
  const stdout = execFileSync(
    findPython(),
    [
      path.join(REPO_ROOT, "bench", "trl", "grpo.py"),
      ...["--model", fx.model, "--train", fx.train, "--out", path.join(path.resolve(a.out), "trl")],
      ...["--steps", String(steps), "--batch", String(batch), "--n", String(n)],
      ...["--max-tokens", a["max-tokens"], "--lr", a.lr],
    ],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 << 20,
      env: { ...process.env, RFT_ENGINE_THREADS: THREADS },
    },
  );
  const last = stdout.trim().split("\n").at(-1)!;
  return (JSON.parse(last) as { samples_per_s: number }).samples_per_s;
}

async function main(): Promise<void> {
  const fx = ensureTinyModel(path.resolve(a.fixture));
  const steps = Number(a.steps);
  const batch = Number(a.batch);
  const n = Number(a.n);
  const oursRate = await ours(fx, steps, batch, n);
  process.stderr.write(`ours: ${oursRate.toFixed(2)} samples/s\n`);
  const trlRate = trl(fx, steps, batch, n);
  process.stderr.write(`trl: ${trlRate.toFixed(2)} samples/s\n`);
  process.stdout.write(
    `samples/s ours=${oursRate.toFixed(2)} trl=${trlRate.toFixed(2)} ratio=${(oursRate / trlRate).toFixed(2)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
