import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/**
 * The port the loop reports through. The folder adapter below writes plain files (the embedded default and
 * the tests); an HTTP adapter speaking the runner protocol implements the same interface.
 */

export type EventLevel = "info" | "warn" | "error";

export type RunEvent = {
  level: EventLevel;
  message: string;
  /** `message` for prose, `metrics` for a step's numbers (OpenAI's event types). */
  type?: "message" | "metrics";
  data?: Record<string, unknown>;
  created_at?: number;
};

/** One step's numbers. Optional fields are absent on steps where they were not measured. */
export type StepMetrics = {
  step: number;
  total_steps: number;
  epoch: number;
  train_reward_mean?: number;
  valid_reward_mean?: number;
  train_loss?: number;
  kl?: number;
  entropy?: number;
  clip_fraction?: number;
  grad_norm?: number;
  learning_rate: number;
  mean_response_length?: number;
  frac_zero_variance_groups?: number;
  grader_errors?: number;
  time_sample_s?: number;
  time_grade_s?: number;
  time_train_s?: number;
  time_eval_s?: number;
  step_time_s: number;
  tokens_per_s?: number;
  /** True when the step was not applied (non-finite loss, or no group with a learning signal). */
  skipped?: boolean;
  /** 1-based line numbers of the training file this step used, in order. */
  batch_lines: number[];
};

export type RegisteredCheckpoint = {
  step: number;
  path: string;
  files: { name: string; bytes: number }[];
  metrics: Partial<StepMetrics>;
};

export type ControlAction = "continue" | "pause" | "cancel";
/** How a run ends. `paused`: it saved a checkpoint and stopped for a pause (`runtime.on_pause: exit`). */
export type FinalStatus = "succeeded" | "failed" | "cancelled" | "paused";
export type RunStatus = "running" | FinalStatus;

export interface RunnerIO {
  /** Called once before the loop starts; `resumedFromStep` is 0 for a fresh run. */
  begin(info: { totalSteps: number; resumedFromStep: number }): Promise<void>;
  emit(events: RunEvent[]): Promise<void>;
  metrics(step: StepMetrics): Promise<void>;
  /** Proof of life; the answer says whether to go on, pause or cancel. */
  heartbeat(progress: { step: number; totalSteps: number; status: "running" | "paused" }): Promise<ControlAction>;
  checkpoint(registered: RegisteredCheckpoint): Promise<void>;
  finish(status: FinalStatus, error?: string): Promise<void>;
}

const Control = z.object({ action: z.enum(["continue", "pause", "cancel"]) });

let tempSerial = 0;

/**
 * Writes a file whole or not at all: a temp file beside it, then a rename. Each write has its own temp file, so two
 * writes of the same file at once cannot rename each other's away (a heartbeat during the loop's own status write
 * failed a job with ENOENT that way).
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${tempSerial++}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * Folder adapter: `events.jsonl` and `metrics.jsonl` (appended, one JSON object per line),
 * `checkpoints.jsonl`, `status.json` (rewritten atomically), and `control.json`, which anyone may write
 * (`{"action": "pause" | "continue" | "cancel"}`) and which is read at every heartbeat.
 */
export class FolderRunnerIO implements RunnerIO {
  readonly eventsFile: string;
  readonly metricsFile: string;
  readonly checkpointsFile: string;
  readonly statusFile: string;
  readonly controlFile: string;
  private lastStep = 0;
  private totalSteps = 0;
  private finished = false;
  private statusWrites: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly echo?: (line: string) => void,
  ) {
    this.eventsFile = path.join(dir, "events.jsonl");
    this.metricsFile = path.join(dir, "metrics.jsonl");
    this.checkpointsFile = path.join(dir, "checkpoints.jsonl");
    this.statusFile = path.join(dir, "status.json");
    this.controlFile = path.join(dir, "control.json");
  }

  async begin(info: { totalSteps: number; resumedFromStep: number }): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.totalSteps = info.totalSteps;
    this.lastStep = info.resumedFromStep;
    // Steps after the checkpoint we resume from are done again: drop their old lines so every step
    // appears once in metrics.jsonl.
    // A fresh start (no checkpoint) starts the metrics over, baseline included.
    await dropLinesAfter(this.metricsFile, info.resumedFromStep === 0 ? -1 : info.resumedFromStep);
    await this.writeStatus("running");
  }

  async emit(events: RunEvent[]): Promise<void> {
    if (events.length === 0) return;
    const now = Math.floor(Date.now() / 1000);
    const lines = events.map((e) => JSON.stringify({ created_at: now, type: "message", ...e }));
    await appendFile(this.eventsFile, `${lines.join("\n")}\n`);
    for (const e of events) this.echo?.(`[${e.level}] ${e.message}`);
  }

  async metrics(step: StepMetrics): Promise<void> {
    this.lastStep = step.step;
    await appendFile(this.metricsFile, `${JSON.stringify(step)}\n`);
  }

  async heartbeat(progress: {
    step: number;
    totalSteps: number;
    status: "running" | "paused";
  }): Promise<ControlAction> {
    this.lastStep = progress.step;
    this.totalSteps = progress.totalSteps;
    await this.writeStatus(progress.status);
    let text: string;
    try {
      text = await readFile(this.controlFile, "utf8");
    } catch {
      return "continue";
    }
    const parsed = Control.safeParse(safeJson(text));
    if (!parsed.success) {
      await this.emit([
        { level: "warn", message: `ignoring ${this.controlFile}: expected {"action": "continue"|"pause"|"cancel"}` },
      ]);
      return "continue";
    }
    return parsed.data.action;
  }

  async checkpoint(registered: RegisteredCheckpoint): Promise<void> {
    await appendFile(
      this.checkpointsFile,
      `${JSON.stringify({ created_at: Math.floor(Date.now() / 1000), ...registered })}\n`,
    );
  }

  async finish(status: FinalStatus, error?: string): Promise<void> {
    this.finished = true;
    await this.writeStatus(status, error, true);
  }

  /**
   * Status writes one after another, in the order they were asked for (a heartbeat timer and the loop both write):
   * a late heartbeat can neither land after the final status nor turn it back into "running".
   */
  private writeStatus(status: RunStatus, error?: string, final = false): Promise<void> {
    const write = this.statusWrites.then(() =>
      final || !this.finished ? this.writeStatusNow(status, error) : undefined,
    );
    this.statusWrites = write.catch(() => {});
    return write;
  }

  private async writeStatusNow(status: RunStatus, error?: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const body = {
      status,
      step: this.lastStep,
      total_steps: this.totalSteps,
      updated_at: Math.floor(Date.now() / 1000),
      ...(error !== undefined ? { error } : {}),
    };
    await writeFileAtomic(this.statusFile, `${JSON.stringify(body, null, 2)}\n`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Rewrites a metrics file keeping only lines whose `step` is at most `maxStep` (and any unparsable line). */
async function dropLinesAfter(file: string, maxStep: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return;
  }
  const kept = text.split("\n").filter((line) => {
    if (line.trim() === "") return false;
    const v = safeJson(line) as { step?: unknown } | undefined;
    return !(v && typeof v.step === "number" && v.step > maxStep);
  });
  await writeFileAtomic(file, kept.length > 0 ? `${kept.join("\n")}\n` : "");
}
