/**
 * The runner protocol, runner side: `RunnerClient` speaks HTTP to the control plane (`<api>/runner/v1/...`) with a
 * job-scoped bearer token, retrying 5xx, 408, 429 and connection errors with exponential backoff; `HttpRunnerIO`
 * is the `RunnerIO` the loop reports through: events and metrics are buffered and ride on the heartbeat (or a
 * timed flush, and one before every checkpoint and the final status), the loop never waits on the network while
 * the answer is `continue`, a keep-alive heartbeat runs between the loop's own (a long step must not look like a
 * dead run), and checkpoints are uploaded through the URLs the API hands out, then registered.
 *
 * Every answer is checked with zod: the runner ships without the API's code, so the shapes it relies on are here.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { ControlAction, FinalStatus, RegisteredCheckpoint, RunEvent, RunnerIO, StepMetrics } from "./runner-io.ts";

// ---- the shapes the runner reads --------------------------------------------------------------------------------------

export const RemoteFile = z.object({
  name: z.string(),
  url: z.string(),
  bytes: z.number().int().nonnegative(),
  key: z.string(),
  sha256: z.string().nullable(),
});
export type RemoteFile = z.infer<typeof RemoteFile>;

export const RemoteSpec = z.object({
  object: z.literal("runner.spec"),
  job: z.object({
    id: z.string(),
    project_id: z.string(),
    model: z.string(),
    suffix: z.string().nullable(),
    seed: z.number(),
    status: z.string(),
    fine_tuned_model: z.string(),
  }),
  run: z.object({ id: z.string(), attempt: z.number(), max_attempts: z.number() }),
  method: z.object({
    type: z.enum(["reinforcement", "supervised"]),
    hyperparameters: z.record(z.string(), z.unknown()),
  }),
  grader: z.record(z.string(), z.unknown()).nullable(),
  training_file: RemoteFile,
  validation_file: RemoteFile.nullable(),
  model: z.object({
    id: z.string(),
    base: z.string(),
    files: z.array(RemoteFile),
    /** A Hugging Face Hub repo id: the engine fetches it (or finds it in the HF cache) itself. Older APIs omit it. */
    hub: z.string().nullable().optional(),
  }),
  resume: z.object({ step: z.number().int(), checkpoint_id: z.string(), files: z.array(RemoteFile) }).nullable(),
  total_steps: z.number().int().nullable(),
  heartbeat_interval_ms: z.number().int().positive(),
  urls_expire_at: z.number(),
});
export type RemoteSpec = z.infer<typeof RemoteSpec>;

const HeartbeatAnswer = z.object({ action: z.enum(["continue", "pause", "cancel"]), job_status: z.string() });
const UploadsAnswer = z.object({
  prefix: z.string(),
  expires_at: z.number(),
  uploads: z.array(
    z.object({
      name: z.string(),
      method: z.literal("PUT"),
      url: z.string(),
      headers: z.record(z.string(), z.string()),
    }),
  ),
});
const RegisterAnswer = z.object({ id: z.string(), fine_tuned_model_checkpoint: z.string(), step_number: z.number() });
const StatusAnswer = z.object({ job_status: z.string(), fine_tuned_model: z.string().nullable() });
const Ack = z.object({}).loose();
const ErrorEnvelope = z.object({ error: z.object({ message: z.string(), code: z.string().nullable().optional() }) });

// ---- the client -----------------------------------------------------------------------------------------------------------

/** An answer that retrying will not change (4xx other than 408/429), or retries ran out. */
export class RunnerHttpError extends Error {
  override readonly name = "RunnerHttpError";
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

export interface RetryPolicy {
  /** Give up after this long in total (ms). */
  deadlineMs: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { deadlineMs: 5 * 60_000, baseMs: 250, maxMs: 15_000 };

export interface RunnerClientOptions {
  /** The API's base URL, e.g. `http://10.0.0.5:8787`; the protocol lives under `/runner/v1`. */
  apiUrl: string;
  token: string;
  retry?: Partial<RetryPolicy>;
  log?: (line: string) => void;
}

export class RunnerClient {
  readonly base: string;
  private readonly retry: RetryPolicy;
  private readonly log: (line: string) => void;

  constructor(private readonly options: RunnerClientOptions) {
    this.base = `${options.apiUrl.replace(/\/+$/, "")}/runner/v1`;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Runs `attempt` until it succeeds, fails permanently, or the deadline passes (backoff with jitter). */
  async withRetry<T>(what: string, attempt: () => Promise<T>, policy: Partial<RetryPolicy> = {}): Promise<T> {
    const p = { ...this.retry, ...policy };
    const deadline = Date.now() + p.deadlineMs;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        const permanent = err instanceof RunnerHttpError && err.permanent;
        const delay = Math.min(p.maxMs, p.baseMs * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4);
        if (permanent || Date.now() + delay > deadline) throw err;
        this.log(`runner: ${what} failed (${(err as Error).message}); retry ${n} in ${Math.round(delay)} ms`);
        await sleep(delay);
      }
    }
  }

  async call<T extends z.ZodType>(
    method: "GET" | "POST",
    route: string,
    schema: T,
    body?: unknown,
    policy?: Partial<RetryPolicy>,
  ): Promise<z.infer<T>> {
    return this.withRetry(
      `${method} ${route}`,
      async () => {
        const res = await fetch(`${this.base}${route}`, {
          method,
          headers: {
            authorization: `Bearer ${this.options.token}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        if (!res.ok) throw httpError(res.status, text, `${method} ${route}`);
        const parsed = schema.safeParse(JSON.parse(text));
        if (!parsed.success)
          throw new RunnerHttpError(
            502,
            "bad_answer",
            `${method} ${route}: unexpected answer: ${parsed.error.issues[0]?.message}`,
          );
        return parsed.data;
      },
      policy,
    );
  }

  spec(): Promise<RemoteSpec> {
    return this.call("GET", "/spec", RemoteSpec);
  }

  /** Streams `file` to `dest` (a temp file beside it, renamed when complete and the size checks out). */
  async download(file: RemoteFile, dest: string): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.partial-${process.pid}`;
    await this.withRetry(`download ${file.name}`, async () => {
      const res = await fetch(file.url, { signal: AbortSignal.timeout(6 * 3600_000) });
      if (!res.ok || !res.body) throw httpError(res.status, await res.text().catch(() => ""), `download ${file.name}`);
      const hash = createHash("sha256");
      await pipeline(Readable.fromWeb(res.body as never), tap(hash), createWriteStream(tmp));
      const { size } = await stat(tmp);
      if (size !== file.bytes) throw new Error(`download ${file.name}: got ${size} bytes, expected ${file.bytes}`);
      if (file.sha256 && hash.digest("hex") !== file.sha256) throw new Error(`download ${file.name}: sha256 mismatch`);
    }).catch(async (err) => {
      await rm(tmp, { force: true });
      throw err;
    });
    await rename(tmp, dest);
  }

  /** Streams a local file to a PUT URL (presigned S3 or the API's own); returns its sha256. */
  async upload(url: string, headers: Record<string, string>, file: string, bytes: number): Promise<string> {
    return this.withRetry(`upload ${path.basename(file)}`, async () => {
      const hash = createHash("sha256");
      const body = Readable.toWeb(createReadStream(file).pipe(tap(hash))) as ReadableStream<Uint8Array>;
      const res = await fetch(url, {
        method: "PUT",
        headers: { ...headers, "content-length": String(bytes) },
        body,
        duplex: "half",
        signal: AbortSignal.timeout(6 * 3600_000),
      } as RequestInit);
      if (!res.ok) throw httpError(res.status, await res.text().catch(() => ""), `upload ${path.basename(file)}`);
      await res.arrayBuffer().catch(() => undefined);
      return hash.digest("hex");
    });
  }
}

async function pruneOlder(checkpointDir: string, step: number): Promise<void> {
  const parent = path.dirname(checkpointDir);
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && Number(m[1]) < step) await rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function tap(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

function httpError(status: number, text: string, what: string): RunnerHttpError {
  let message = text.slice(0, 500);
  let code: string | null = null;
  try {
    const env = ErrorEnvelope.parse(JSON.parse(text));
    message = env.error.message;
    code = env.error.code ?? null;
  } catch {
    // not our envelope (an S3 XML error, a proxy page)
  }
  return new RunnerHttpError(status, code, `${what}: HTTP ${status}${message ? `: ${message}` : ""}`);
}

// ---- the RunnerIO ------------------------------------------------------------------------------------------------------------

export interface HttpRunnerIOOptions {
  heartbeatIntervalMs?: number;
  flushMs?: number;
  maxBatch?: number;
  /** Added to a failed run's error (the engine's last stderr lines), when the error does not carry them already. */
  failureContext?: () => string | undefined;
  /**
   * After a checkpoint is registered, delete older local checkpoint folders beside it (`step-N` with a smaller N):
   * they are safe in the store and the loop resumes only from the newest. Keeps a long run's scratch disk bounded.
   */
  pruneOlderLocalCheckpoints?: boolean;
  /**
   * The loop heartbeats after every step. While the last answer was `continue`, the loop never waits on the
   * network: it gets `continue` at once, and when this long has passed since the last answer a heartbeat goes out
   * in the background, carrying the buffered events and metrics. Cancel and pause then land within this gap plus
   * one step. Default 1 s; 0 waits for an answer at every heartbeat.
   */
  minHeartbeatGapMs?: number;
}

/**
 * The HTTP RunnerIO. Events and metrics are buffered and leave in few requests: on the heartbeat (which carries
 * them), on a timer (`flushMs`) when no heartbeat went out meanwhile, at `maxBatch`, and before every checkpoint
 * and the final status; `close()` sends what is left. Until the first step's metrics every event is sent at once,
 * so a user watching a job start sees it start. Every send goes through one queue, so the API stores events and
 * metrics in the order they were made; a send that fails keeps its batch buffered for the next (nothing is lost).
 */
export class HttpRunnerIO implements RunnerIO {
  private events: RunEvent[] = [];
  private metricsQueue: StepMetrics[] = [];
  private sending: Promise<unknown> = Promise.resolve();
  private beating: Promise<ControlAction> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private step = 0;
  private totalSteps = 0;
  private status: "starting" | "running" | "paused" = "starting";
  /** Set when the API says this run has ended (the reaper gave the job to a newer run): stop at once. */
  private superseded = false;
  /** Steps have started reporting: from now on events are batched. */
  private stepping = false;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private lastAction: ControlAction = "continue";
  private lastHeartbeatAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly client: RunnerClient,
    private readonly options: HttpRunnerIOOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 1_000;
    this.maxBatch = options.maxBatch ?? 200;
  }

  /** Heartbeats in the background until `close()`, so downloads and long steps do not read as a dead run. */
  startKeepalive(step = 0): void {
    this.step = step;
    if (this.keepalive) return;
    const every = this.options.heartbeatIntervalMs ?? 10_000;
    this.keepalive = setInterval(() => {
      this.beat().catch(() => {});
    }, every);
    this.keepalive.unref();
  }

  async begin(info: { totalSteps: number; resumedFromStep: number }): Promise<void> {
    this.totalSteps = info.totalSteps;
    this.step = info.resumedFromStep;
    this.status = "running";
  }

  async emit(events: RunEvent[]): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    for (const e of events) this.events.push({ created_at: now, ...e });
    if (this.stepping) this.scheduleFlush();
    else this.flush().catch(() => {});
  }

  async metrics(step: StepMetrics): Promise<void> {
    this.step = Math.max(this.step, step.step);
    if (step.step > 0) this.stepping = true;
    this.metricsQueue.push(step);
    this.scheduleFlush();
  }

  async heartbeat(progress: {
    step: number;
    totalSteps: number;
    status: "running" | "paused";
  }): Promise<ControlAction> {
    this.step = progress.step;
    this.totalSteps = progress.totalSteps;
    this.status = progress.status;
    const gap = this.options.minHeartbeatGapMs ?? 1_000;
    if (gap > 0 && progress.status === "running" && this.lastAction === "continue" && !this.superseded) {
      if (performance.now() - this.lastHeartbeatAt >= gap) this.beat().catch(() => {});
      return "continue";
    }
    return this.beat();
  }

  async checkpoint(registered: RegisteredCheckpoint): Promise<void> {
    await this.flush();
    if (this.superseded) return;
    const files = registered.files.map((f) => ({ name: f.name.split(path.sep).join("/"), bytes: f.bytes }));
    const t0 = performance.now();
    const sha: Record<string, string> = {};
    // URLs can expire during a very long upload: one fresh set is asked for if the store refuses them.
    for (let round = 1; ; round++) {
      const plan = await this.client.call("POST", "/checkpoints/uploads", UploadsAnswer, {
        step: registered.step,
        files,
      });
      try {
        for (const up of plan.uploads) {
          if (sha[up.name]) continue;
          const bytes = files.find((f) => f.name === up.name)!.bytes;
          sha[up.name] = await this.client.upload(
            up.url,
            up.headers,
            path.join(registered.path, ...up.name.split("/")),
            bytes,
          );
        }
        break;
      } catch (err) {
        if (round >= 2 || !(err instanceof RunnerHttpError && err.status === 403)) throw err;
      }
    }
    const metrics = Object.fromEntries(
      Object.entries(registered.metrics).filter(([, v]) => typeof v === "number" && Number.isFinite(v)),
    );
    const answer = await this.client.call("POST", "/checkpoints", RegisterAnswer, {
      step: registered.step,
      files: files.map((f) => ({ ...f, sha256: sha[f.name] })),
      metrics,
    });
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    const seconds = (performance.now() - t0) / 1000;
    if (this.options.pruneOlderLocalCheckpoints) await pruneOlder(registered.path, registered.step);
    await this.emit([
      {
        level: "info",
        message: `step ${registered.step}: checkpoint uploaded (${files.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s)`,
        data: { step: registered.step, checkpoint_id: answer.id, bytes, upload_s: seconds },
      },
    ]);
  }

  async finish(status: FinalStatus, error?: string): Promise<void> {
    let message = error;
    const context = status === "failed" ? this.options.failureContext?.() : undefined;
    // An engine crash already carries its stderr tail (EngineDiedError): add ours only when its last line is missing.
    const lastLine = context?.split("\n").at(-1) ?? "";
    if (message !== undefined && context && !message.includes(lastLine)) message = `${message}\n${context}`;
    await this.flush().catch(() => {});
    this.stopTimers();
    // The final status matters most: retried for up to 15 minutes (an API restart must not lose it).
    await this.serial(() =>
      this.client.call(
        "POST",
        "/status",
        StatusAnswer,
        { status, step: this.step, ...(message !== undefined ? { error: message.slice(-16_000) } : {}) },
        { deadlineMs: 15 * 60_000 },
      ),
    );
  }

  /** Stops the background timers and sends what is buffered. */
  async close(): Promise<void> {
    this.stopTimers();
    await this.flush().catch(() => {});
  }

  /** Sends what is buffered; on failure the batch stays buffered for the next send (nothing is dropped). */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    return this.serial(async () => {
      while (this.events.length || this.metricsQueue.length) {
        if (this.superseded) {
          this.events = [];
          this.metricsQueue = [];
          return;
        }
        const { events, metrics } = this.batch();
        try {
          await this.client.call("POST", "/events", Ack, { events, metrics });
        } catch (err) {
          if (err instanceof RunnerHttpError && err.code === "run_ended") {
            this.superseded = true;
            continue;
          }
          throw err;
        }
        this.sent(events, metrics);
      }
    });
  }

  /** Runs `task` after every send before it: the API sees events and metrics in the order they were made. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.sending.then(task);
    this.sending = run.catch(() => {});
    return run;
  }

  private batch(): { events: RunEvent[]; metrics: StepMetrics[] } {
    return { events: this.events.slice(0, this.maxBatch), metrics: this.metricsQueue.slice(0, this.maxBatch) };
  }

  private sent(events: RunEvent[], metrics: StepMetrics[]): void {
    this.events.splice(0, events.length);
    this.metricsQueue.splice(0, metrics.length);
  }

  private scheduleFlush(): void {
    if (this.events.length + this.metricsQueue.length >= this.maxBatch) {
      this.flush().catch(() => {});
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch(() => {});
    }, this.flushMs);
    this.flushTimer.unref();
  }

  /** One heartbeat at a time, carrying what is buffered; a call while one is on its way joins it. */
  private beat(): Promise<ControlAction> {
    this.beating ??= this.serial(async (): Promise<ControlAction> => {
      if (this.superseded) return "cancel";
      const { events, metrics } = this.batch();
      const answer = await this.client.call("POST", "/heartbeat", HeartbeatAnswer, {
        step: this.step,
        total_steps: this.totalSteps,
        status: this.status,
        ...(events.length ? { events } : {}),
        ...(metrics.length ? { metrics } : {}),
      });
      this.sent(events, metrics);
      this.lastAction = answer.action;
      this.lastHeartbeatAt = performance.now();
      return answer.action;
    }).finally(() => {
      this.beating = null;
      if (this.events.length || this.metricsQueue.length) this.scheduleFlush();
    });
    return this.beating;
  }

  private stopTimers(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.keepalive = null;
    this.flushTimer = null;
  }
}
