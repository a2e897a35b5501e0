/**
 * RL benchmark: does the supervisor + engine actually teach the tiny addition model?
 *
 *   npx tsx bench/rl/run.ts [--minutes 15] [--out .tmp/bench-rl] [--lr 3e-4] [--n 8] [--batch 16] ...
 *
 * Builds the tiny model (gpu-runner/trainer/make_tiny_model.py) into .tmp/tiny-addition if it is missing,
 * measures the held-out reward (valid.jsonl, string_check against the answer, sampled at the training
 * temperature) before training, runs reinforcement fine-tuning for at most --minutes, and measures it
 * again. The last line is exactly: `reward before=<x> after=<y> steps=<n> minutes=<m>`.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runJob } from "../../gpu-runner/supervisor/loop.ts";
import { REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";
import { FolderRunnerIO, type RunnerIO, type StepMetrics } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";
import { DEFAULT_TINY_DIR, ensureTinyModel } from "./tiny.ts";

const { values: a } = parseArgs({
  options: {
    minutes: { type: "string", default: "15" },
    out: { type: "string", default: path.join(REPO_ROOT, ".tmp", "bench-rl") },
    fixture: { type: "string", default: DEFAULT_TINY_DIR },
    seed: { type: "string", default: "0" },
    lr: { type: "string", default: "3e-4" },
    n: { type: "string", default: "8" },
    batch: { type: "string", default: "16" },
    epochs: { type: "string", default: "3" },
    temperature: { type: "string", default: "1" },
    "lora-rank": { type: "string", default: "0" },
    "max-tokens": { type: "string", default: "8" },
    "eval-interval": { type: "string", default: "25" },
    loss: { type: "string", default: "importance_sampling" },
    quiet: { type: "boolean", default: false },
  },
});

/** Folder IO that also remembers the reward curve. */
class RecordingIO extends FolderRunnerIO implements RunnerIO {
  readonly curve: StepMetrics[] = [];
  override async metrics(step: StepMetrics): Promise<void> {
    this.curve.push(step);
    if (!a.quiet) {
      const parts = [`step ${step.step}/${step.total_steps}`];
      if (step.train_reward_mean !== undefined) parts.push(`train ${step.train_reward_mean.toFixed(3)}`);
      if (step.valid_reward_mean !== undefined) parts.push(`valid ${step.valid_reward_mean.toFixed(3)}`);
      if (step.frac_zero_variance_groups !== undefined)
        parts.push(`zero-var ${step.frac_zero_variance_groups.toFixed(2)}`);
      parts.push(`${step.step_time_s.toFixed(2)} s`);
      process.stderr.write(`${parts.join("  ")}\n`);
    }
    await super.metrics(step);
  }
}

async function main(): Promise<void> {
  const fx = ensureTinyModel(path.resolve(a.fixture));
  const out = path.resolve(a.out);
  rmSync(out, { recursive: true, force: true });
  const loraRank = Number(a["lora-rank"]);
  const spec = parseSpec({
    model: fx.model,
    training_file: fx.train,
    validation_file: fx.valid,
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
        n_epochs: Number(a.epochs),
        batch_size: Number(a.batch),
        n: Number(a.n),
        learning_rate: Number(a.lr),
        temperature: Number(a.temperature),
        max_tokens: Number(a["max-tokens"]),
        eval_interval: Number(a["eval-interval"]),
        checkpoint_interval: 0,
        lora: loraRank > 0 ? { rank: loraRank, alpha: 2 * loraRank, dropout: 0, target_modules: "all-linear" } : null,
        loss: a.loss,
        seed: Number(a.seed),
      },
    },
    runtime: { device: "cpu", dtype: "float32", max_duration_s: Number(a.minutes) * 60, eval_batch_size: 200 },
  });
  const io = new RecordingIO(out, a.quiet ? undefined : (line) => process.stderr.write(`${line}\n`));
  const t0 = performance.now();
  // One torch thread: measured fastest for this tiny model on a small shared machine (override with the variable).
  const engineEnv = { RFT_ENGINE_THREADS: process.env.RFT_ENGINE_THREADS ?? "1" };
  const result = await runJob(spec, { io, engine: { env: engineEnv } });
  const minutes = (performance.now() - t0) / 60_000;
  if (result.status !== "succeeded") throw new Error(`run ${result.status}: ${result.error}`);
  const evals = io.curve.filter((m) => m.valid_reward_mean !== undefined);
  const before = evals[0]?.valid_reward_mean ?? Number.NaN;
  const after = evals.at(-1)?.valid_reward_mean ?? Number.NaN;
  process.stdout.write(
    `reward before=${before.toFixed(3)} after=${after.toFixed(3)} steps=${result.step} minutes=${minutes.toFixed(1)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
