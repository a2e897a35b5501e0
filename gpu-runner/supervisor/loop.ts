import { setTimeout as sleep } from "node:timers/promises";
import type { GraderContext } from "../../graders/index.ts";
import {
  checkpointPath,
  findLatestCheckpoint,
  pruneCheckpoints,
  type SupervisorState,
  saveCheckpoint,
} from "./checkpoints.ts";
import { BatchSource, batchPlan, indexJsonl, type LineIndex, readLines } from "./data.ts";
import { EngineClient, type EngineClientOptions, EngineOpError } from "./engine-client.ts";
import type { InitResult } from "./engine-schemas.ts";
import { lockOutputDir } from "./lock.ts";
import { type RewardFn, rewardFnFor } from "./reward.ts";
import type { ControlAction, FinalStatus, RunEvent, RunnerIO, StepMetrics } from "./runner-io.ts";
import type { RunSpec } from "./spec.ts";
import {
  type Engine,
  type EvalOutcome,
  evaluate,
  reinforcementStep,
  type StepOutcome,
  supervisedStep,
} from "./steps.ts";

/** What the loop needs of an engine: EngineClient, or a scripted stand-in in unit tests. */
export type EngineHandle = Engine & Pick<EngineClient, "init" | "shutdown" | "pid" | "exportOnnx">;

export type RunResult = { status: FinalStatus; step: number; totalSteps: number; error?: string };

export type RunDeps = {
  io: RunnerIO;
  /** Defaults to the grader of the spec, graded by graders/ with `graderContext`. */
  rewardFn?: RewardFn;
  /** Model endpoint and python sandbox for model / python graders (graders/node.ts builds one on Node). */
  graderContext?: GraderContext;
  /** How to start the engine (python, script, timeouts, a stderr sink). */
  engine?: EngineClientOptions;
  /** Told the engine's process id once it is up (for watchdogs and tests). */
  onEngineStart?: (pid: number | undefined) => void;
  /** Replaces the engine process (unit tests of the loop's control flow use a scripted stand-in). */
  startEngine?: () => Promise<EngineHandle>;
};

/** A failure the user can act on: its message is the run's error as-is. */
export class RunError extends Error {
  override readonly name = "RunError";
}

/**
 * Runs one job to its end: resumes from the newest checkpoint in output_dir if any, evaluates a baseline,
 * then steps (reinforcement or supervised), evaluating, checkpointing, reporting metrics and honouring
 * pause / cancel between steps. Never throws for a failure of the run itself: it is reported through
 * `io.finish` and returned.
 */
export async function runJob(spec: RunSpec, deps: RunDeps): Promise<RunResult> {
  const { io } = deps;
  let engine: EngineHandle | undefined;
  let step = 0;
  let totalSteps = 0;
  // Refused before anything is reported: the status files belong to the supervisor that holds the lock.
  let unlock: () => Promise<void>;
  try {
    unlock = await lockOutputDir(spec.output_dir);
  } catch (err) {
    return { status: "failed", step, totalSteps, error: errorMessage(err) };
  }
  let stopBeating = () => {};
  try {
    const hp = spec.method.hyperparameters;
    const trainIndex = await indexJsonl(spec.training_file);
    const plan = batchPlan(trainIndex.offsets.length, hp.batch_size, hp.n_epochs);
    totalSteps = plan.totalSteps;
    const dataKey = {
      sha256: trainIndex.sha256,
      n_items: plan.nItems,
      batch_size: hp.batch_size,
      seed: hp.seed,
      n_epochs: hp.n_epochs,
    };

    const latest = await findLatestCheckpoint(spec.output_dir);
    if (latest && spec.resume === "never") {
      throw new RunError(
        `${spec.output_dir} already holds checkpoints (newest: step ${latest.state.step}) and resume is 'never'`,
      );
    }
    if (latest) assertSameData(latest.state, dataKey, spec.method.type);
    step = latest?.state.step ?? 0;
    let consecutiveNan = latest?.state.consecutive_nan_steps ?? 0;
    let noSignalSteps = 0;
    await io.begin({ totalSteps, resumedFromStep: step });

    if (step >= totalSteps) {
      await io.emit([
        { level: "info", message: `nothing to do: the run already finished all ${totalSteps} steps (${latest!.path})` },
      ]);
      await io.finish("succeeded");
      return { status: "succeeded", step, totalSteps };
    }

    const rewardFn = deps.rewardFn ?? (spec.grader ? rewardFnFor(spec.grader, deps.graderContext) : undefined);
    if (spec.method.type === "reinforcement" && !rewardFn) throw new RunError("a reinforcement run needs a grader");
    const valid =
      spec.validation_file && rewardFn ? await loadValidation(spec.validation_file, hp.eval_samples) : undefined;

    engine = deps.startEngine ? await deps.startEngine() : await EngineClient.start(deps.engine ?? {});
    deps.onEngineStart?.(engine.pid);
    const info = await engine.init({
      model_path: spec.model,
      lora: hp.lora,
      optimizer: { lr: hp.learning_rate, betas: [0.9, 0.999], eps: 1e-8, weight_decay: hp.weight_decay },
      seed: hp.seed,
      device: spec.runtime.device,
      dtype: spec.runtime.dtype,
      kl_coef: hp.kl_coef,
      resume: latest ? { path: latest.path } : null,
    });
    await io.emit([startEvent(spec, info, plan.nItems, totalSteps, latest?.state.step)]);

    const runEval = async (): Promise<EvalOutcome | undefined> => {
      if (!valid || !rewardFn) return undefined;
      const out = await evaluate(engine!, rewardFn, valid.items, valid.lineNumbers, hp, spec.runtime, valid.index.path);
      await io.emit([
        {
          level: "info",
          message: `step ${step}: validation reward mean ${out.rewardMean.toFixed(4)} over ${out.n} items`,
          data: { step, valid_reward_mean: out.rewardMean, examples: out.examples },
        },
        ...(out.graderErrors > 0
          ? [
              {
                level: "warn" as const,
                message: `step ${step}: ${out.graderErrors} grader errors during validation (reward 0)`,
              },
            ]
          : []),
      ]);
      return out;
    };

    if (step === 0 && valid) {
      const baseline = await runEval();
      await io.metrics({
        step: 0,
        total_steps: totalSteps,
        epoch: 0,
        learning_rate: hp.learning_rate,
        step_time_s: 0,
        valid_reward_mean: baseline!.rewardMean,
        time_eval_s: baseline!.seconds,
        batch_lines: [],
      });
    }

    /** Saves a checkpoint of the step just finished and registers it (the interval, the last step, a pause). */
    const checkpoint = async (metrics: Partial<StepMetrics>, last: boolean) => {
      const state: SupervisorState = {
        version: 1,
        step,
        total_steps: totalSteps,
        method: spec.method.type,
        data: dataKey,
        consecutive_nan_steps: consecutiveNan,
        saved_at: Math.floor(Date.now() / 1000),
      };
      const onnx = spec.runtime.export_onnx === "every" || (spec.runtime.export_onnx === "final" && last);
      const saved = await saveCheckpoint(engine!, spec.output_dir, state, {
        merged: spec.runtime.save_merged || last,
        onnx,
      });
      await io.checkpoint({ step, path: saved.path, files: saved.files, metrics });
      await io.emit([{ level: "info", message: `step ${step}: checkpoint saved to ${saved.path}` }]);
      savedStep = step;
      const keep = spec.runtime.keep_checkpoints;
      if (keep !== null) await pruneCheckpoints(spec.output_dir, keep);
    };
    let savedStep = latest?.state.step ?? 0;
    let lastMetrics: Partial<StepMetrics> = {};

    const source = new BatchSource(trainIndex, plan, hp.seed);
    const loopStart = performance.now();
    const firstStep = step;
    let stoppedEarly = false;
    while (step < totalSteps && !stoppedEarly) {
      let action = await io.heartbeat({ step, totalSteps, status: "running" });
      if (action === "pause" && spec.runtime.on_pause === "exit") {
        // Checkpoint what the machine holds that the store does not, then give the machine back.
        const saved = step > savedStep;
        if (saved) await checkpoint(lastMetrics, false);
        const at =
          step === 0
            ? "before the first step; resuming starts from the beginning"
            : `after step ${step} of ${totalSteps}${saved ? ` (checkpoint saved at step ${step})` : ` (its checkpoint was already saved)`}; resuming continues at step ${step + 1}`;
        await io.emit([
          { level: "info", message: `paused ${at}; the runner stops and frees its machine`, data: { step } },
        ]);
        await io.finish("paused");
        return { status: "paused", step, totalSteps };
      }
      if (action === "pause") action = await waitWhilePaused(io, step, totalSteps, spec.runtime.pause_poll_ms);
      if (action === "cancel") {
        await io.emit([{ level: "info", message: `cancelled after step ${step} of ${totalSteps}` }]);
        await io.finish("cancelled");
        return { status: "cancelled", step, totalSteps };
      }

      const next = step + 1;
      stopBeating = heartbeatDuring(io, spec.runtime.heartbeat_interval_ms, () => ({ step, totalSteps }));
      const batch = await source.batch(next);
      const t0 = performance.now();
      const outcome = await runStep(engine, spec, rewardFn, batch.items, batch.lineNumbers, next);
      const stepTime = (performance.now() - t0) / 1000;
      step = next;

      const events: RunEvent[] = [];
      if (outcome.nonFinite) {
        consecutiveNan++;
        events.push({
          level: "warn",
          message: `step ${step}: the loss was not finite; the update was skipped (${consecutiveNan} in a row)`,
        });
      } else {
        consecutiveNan = 0;
      }
      if (outcome.skipReason === "no_learning_signal") {
        noSignalSteps++;
        // Said the first time and then every 10th time, with the count: a warning per step would drown the log.
        if (noSignalSteps % 10 === 1) {
          events.push({
            level: "warn",
            message: `step ${step}: every group's samples got the same reward (mean ${outcome.trainRewardMean?.toFixed(3)}), so there was nothing to learn from and no update was made (${noSignalSteps} such steps so far); if this keeps happening, the task is too hard or too easy for the model, or the grader gives a constant`,
          });
        }
      }
      if (outcome.graderErrors) {
        events.push({
          level: "warn",
          message: `step ${step}: ${outcome.graderErrors} samples could not be graded and got reward 0: ${outcome.graderErrorMessages?.join(" | ")}`,
        });
      }

      const metrics = stepMetrics(
        outcome,
        step,
        totalSteps,
        batch.epoch,
        batch.lineNumbers,
        hp.learning_rate,
        stepTime,
      );
      if (consecutiveNan >= spec.runtime.max_consecutive_nan_steps) {
        await io.emit(events);
        await io.metrics(metrics);
        throw new RunError(
          `training diverged: the loss was not finite for ${consecutiveNan} steps in a row (steps ${step - consecutiveNan + 1}-${step}); lower the learning rate (now ${hp.learning_rate}) or check the data`,
        );
      }

      // With a time limit, this step is the last when the next one would likely end past it.
      const limit = spec.runtime.max_duration_s;
      const elapsed = (performance.now() - loopStart) / 1000;
      if (limit !== null && step < totalSteps && elapsed + elapsed / (step - firstStep) > limit) {
        stoppedEarly = true;
        events.push({
          level: "warn",
          message: `stopping after step ${step} of ${totalSteps}: the time limit of ${limit} s (runtime.max_duration_s) is reached`,
        });
      }
      const last = step === totalSteps || stoppedEarly;
      if ((hp.eval_interval > 0 && step % hp.eval_interval === 0) || last) {
        const ev = await runEval();
        if (ev) {
          metrics.valid_reward_mean = ev.rewardMean;
          metrics.time_eval_s = ev.seconds;
        }
      }
      await io.emit(events);
      await io.metrics(metrics);

      lastMetrics = metrics;
      if ((hp.checkpoint_interval > 0 && step % hp.checkpoint_interval === 0) || last) await checkpoint(metrics, last);
      stopBeating();
    }

    await io.emit([
      {
        level: "info",
        message: `finished all ${totalSteps} steps; final checkpoint ${checkpointPath(spec.output_dir, step)}`,
      },
    ]);
    await io.finish("succeeded");
    return { status: "succeeded", step, totalSteps };
  } catch (err) {
    stopBeating();
    const message = errorMessage(err);
    try {
      await io.emit([{ level: "error", message }]);
      await io.finish("failed", message);
    } catch {
      // Reporting failed too: the returned result still carries the error.
    }
    return { status: "failed", step, totalSteps, error: message };
  } finally {
    await engine?.shutdown();
    await unlock();
  }
}

function runStep(
  engine: Engine,
  spec: RunSpec,
  rewardFn: RewardFn | undefined,
  items: Record<string, unknown>[],
  lineNumbers: number[],
  step: number,
): Promise<StepOutcome> {
  const hp = spec.method.hyperparameters;
  if (spec.method.type === "supervised") return supervisedStep(engine, items, lineNumbers, hp, spec.training_file);
  return reinforcementStep(engine, rewardFn!, items, lineNumbers, step, hp, spec.runtime, spec.training_file);
}

/**
 * Proof of life while a step (sampling, grading, training, evaluation, saving) runs: heartbeats on a timer,
 * one at a time. Its answer is not acted on here: pause and cancel are read again between steps.
 */
function heartbeatDuring(
  io: RunnerIO,
  intervalMs: number,
  progress: () => { step: number; totalSteps: number },
): () => void {
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    io.heartbeat({ ...progress(), status: "running" })
      .catch(() => {})
      .finally(() => {
        inFlight = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Waits in place, heartbeating, until the answer is not 'pause'; reports the pause and the resumption as events. */
async function waitWhilePaused(
  io: RunnerIO,
  step: number,
  totalSteps: number,
  pollMs: number,
): Promise<"continue" | "cancel"> {
  let action: ControlAction = "pause";
  await io.emit([{ level: "info", message: `paused after step ${step}` }]);
  while (action === "pause") {
    await sleep(pollMs);
    action = await io.heartbeat({ step, totalSteps, status: "paused" });
  }
  if (action === "continue") await io.emit([{ level: "info", message: `resumed at step ${step + 1}` }]);
  return action;
}

async function loadValidation(file: string, limit: number | null) {
  const index: LineIndex = await indexJsonl(file);
  const count = limit === null ? index.offsets.length : Math.min(limit, index.offsets.length);
  const positions = Array.from({ length: count }, (_, i) => i);
  return { index, items: await readLines(index, positions), lineNumbers: positions.map((p) => index.lineNumbers[p]!) };
}

function assertSameData(state: SupervisorState, now: SupervisorState["data"], method: string): void {
  const diffs = (Object.keys(now) as (keyof typeof now)[]).filter((k) => state.data[k] !== now[k]);
  if (state.method !== method) diffs.push("method" as never);
  if (diffs.length > 0) {
    throw new RunError(
      `cannot resume: the checkpoint at step ${state.step} was made with a different ${diffs.join(", ")} ` +
        "(training file contents, batch_size, seed, n_epochs or method); use a new output_dir to start over",
    );
  }
}

function startEvent(
  spec: RunSpec,
  info: InitResult,
  nItems: number,
  totalSteps: number,
  resumedFrom?: number,
): RunEvent {
  const hp = spec.method.hyperparameters;
  const what = resumedFrom !== undefined ? `resumed from step ${resumedFrom}` : "started";
  return {
    level: "info",
    message:
      `${spec.method.type} run ${what}: ${info.model_type} (${info.n_trainable} of ${info.n_params} parameters trainable) ` +
      `on ${info.device}/${info.dtype}; ${nItems} examples, ${totalSteps} steps of ${hp.batch_size}` +
      (spec.method.type === "reinforcement" ? ` prompts x ${hp.n} samples` : " examples"),
    data: {
      model: info,
      total_steps: totalSteps,
      n_items: nItems,
      ...(resumedFrom !== undefined ? { resumed_from_step: resumedFrom } : {}),
    },
  };
}

function stepMetrics(
  o: StepOutcome,
  step: number,
  totalSteps: number,
  epoch: number,
  lines: number[],
  lr: number,
  stepTime: number,
): StepMetrics {
  const m: StepMetrics = {
    step,
    total_steps: totalSteps,
    epoch,
    learning_rate: lr,
    step_time_s: stepTime,
    batch_lines: lines,
  };
  const put = <K extends keyof StepMetrics>(k: K, v: StepMetrics[K] | undefined) => {
    if (v !== undefined && (typeof v !== "number" || Number.isFinite(v))) m[k] = v;
  };
  put("train_reward_mean", o.trainRewardMean);
  put("train_loss", o.loss);
  put("kl", o.kl);
  put("entropy", o.entropy);
  put("clip_fraction", o.clipFraction);
  put("grad_norm", o.gradNorm);
  put("mean_response_length", o.meanResponseLength);
  put("frac_zero_variance_groups", o.fracZeroVariance);
  put("grader_errors", o.graderErrors);
  put("time_sample_s", o.timeSample);
  put("time_grade_s", o.timeGrade);
  put("time_train_s", o.timeTrain);
  put("tokens_per_s", stepTime > 0 ? o.tokens / stepTime : undefined);
  if (o.skipped) m.skipped = true;
  return m;
}

function errorMessage(err: unknown): string {
  if (err instanceof EngineOpError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
