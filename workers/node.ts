/**
 * Node wiring of the workers: the queue consumer (validate, dispatch, and any extra handlers such as webhooks)
 * and the reaper on an interval, in the API's own process. The Node entry calls `startWorkers` once and `stop()`
 * on shutdown.
 */

import type { AppDeps } from "../api/deps.ts";
import { transition } from "../api/jobs/lifecycle.ts";
import { advanceValidation } from "../api/jobs/service.ts";
import { createLocalBackend } from "./backends/local.ts";
import type { RunnerBackend } from "./backends/port.ts";
import { type Handlers, startConsumer } from "./consumer.ts";
import { createDispatcher, type DispatchOutcome } from "./dispatcher.ts";
import type { QueueMessage } from "./queue.ts";
import type { TableQueue } from "./queue-table.ts";
import { createReaper, type SweepReport } from "./reaper.ts";

export interface WorkerOptions {
  queue: TableQueue;
  /** The API base URL as runners reach it, e.g. `http://127.0.0.1:8787` (runner routes live under `/runner`). */
  apiBaseUrl: string;
  dataDir: string;
  /** Default: the local backend (child processes under `<dataDir>/runs/`). */
  backend?: RunnerBackend;
  pollMs?: number;
  heartbeatTimeoutMs?: number;
  /** How long a launched run may take to fetch its spec (image pull, scheduling) before it counts as lost. */
  startTimeoutMs?: number;
  /** Between reaper sweeps; default a quarter of the heartbeat timeout, at most 15 s. */
  reaperIntervalMs?: number;
  nudgeAfterMs?: number;
  concurrency?: number;
  maxDeliveries?: number;
  backoffBaseMs?: number;
  /** Handlers for other message kinds (the webhook deliverer). */
  extraHandlers?: Handlers;
  log?: (line: string) => void;
  /** Observers, for tests and metrics. */
  onDispatch?: (jobId: string, outcome: DispatchOutcome) => void;
  onSweep?: (report: SweepReport) => void;
}

export interface Workers {
  backend: RunnerBackend;
  /** One reaper pass now (tests, and the CLI's `rft admin reap`). */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

export function startWorkers(deps: AppDeps, options: WorkerOptions): Workers {
  const log = options.log ?? ((line: string) => console.error(line));
  const backend = options.backend ?? createLocalBackend({ dataDir: options.dataDir });
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 60_000;
  const dispatcher = createDispatcher({ db: deps.db, backend, apiBaseUrl: options.apiBaseUrl });
  const reaper = createReaper({
    db: deps.db,
    queue: options.queue,
    backends: [backend],
    heartbeatTimeoutMs,
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
    ...(options.nudgeAfterMs !== undefined ? { nudgeAfterMs: options.nudgeAfterMs } : {}),
  });

  const consumer = startConsumer({
    queue: options.queue,
    handlers: {
      ...options.extraHandlers,
      validate: (m) => advanceValidation(deps, m.jobId),
      dispatch: async (m) => {
        const outcome = await dispatcher.dispatch(m.jobId);
        options.onDispatch?.(m.jobId, outcome);
      },
    },
    onPoison: (message, err) => failJobFor(deps, message, err),
    log,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.maxDeliveries !== undefined ? { maxDeliveries: options.maxDeliveries } : {}),
    ...(options.backoffBaseMs !== undefined ? { backoffBaseMs: options.backoffBaseMs } : {}),
  });

  let sweeping: Promise<SweepReport> | null = null;
  const sweep = () => {
    // One sweep at a time: an interval tick during a slow sweep joins it instead of starting a second.
    sweeping ??= reaper.sweep().finally(() => {
      sweeping = null;
    });
    return sweeping;
  };
  const intervalMs = options.reaperIntervalMs ?? Math.min(15_000, Math.max(250, Math.floor(heartbeatTimeoutMs / 4)));
  const timer = setInterval(() => {
    sweep().then(
      (report) => options.onSweep?.(report),
      (err) => log(`reaper: sweep failed: ${(err as Error).message}`),
    );
  }, intervalMs);
  timer.unref();

  return {
    backend,
    sweep,
    async stop() {
      clearInterval(timer);
      await consumer.stop();
      await sweeping?.catch(() => {});
      await backend.close?.();
    },
  };
}

/** A validate or dispatch message that kept failing: the job fails with the last error instead of waiting forever. */
async function failJobFor(deps: AppDeps, message: QueueMessage, err: unknown): Promise<void> {
  if (message.kind === "webhook") return;
  const what = message.kind === "validate" ? "validate the job's files" : "launch a runner";
  const text = `Could not ${what} after repeated attempts: ${err instanceof Error ? err.message : String(err)}`;
  await transition(
    deps.db,
    message.jobId,
    "failed",
    { level: "error", message: text },
    {
      from: message.kind === "validate" ? ["validating_files"] : ["queued"],
      patch: {
        error: {
          code: message.kind === "validate" ? "validation_error" : "dispatch_error",
          message: text,
          param: null,
        },
      },
    },
  );
}
