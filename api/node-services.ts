/**
 * Node-only: the background services that run beside the API in the embedded default — the queue consumer and
 * reaper (`workers/`), the webhook deliverer, the expiry sweep of uploads and files — and the base model
 * registration. The Node entry and the test server both start them here, the same way.
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { expireFiles } from "../db/queries/files.ts";
import { expireUploads } from "../db/queries/uploads.ts";
import type { RunnerBackend } from "../workers/backends/port.ts";
import { backendFrom, parseWorkersEnv } from "../workers/config.ts";
import { startWorkers, type WorkerOptions, type Workers } from "../workers/node.ts";
import { startWebhookDeliverer } from "../workers/webhooks/deliver.ts";
import type { Env } from "./config.ts";
import { repoRoot } from "./lib/repo-root.node.ts";
import { registerBaseModel, registerHubModel } from "./models/node-register.ts";
import type { NodeRuntime } from "./node-deps.ts";

/** The tiny model `scripts/install.sh` builds: the embedded default's base model. */
export const TINY_MODEL_DIR = join(repoRoot(), "gpu-runner/trainer/models/tiny-arith");

export interface ServicesOptions {
  /** The API origin runners reach, e.g. `http://127.0.0.1:8787`. */
  apiBaseUrl: string;
  env: Env;
  processEnv?: Record<string, string | undefined>;
  /** Tests: a backend of their own, faster timings. */
  backend?: RunnerBackend;
  workerOptions?: Partial<WorkerOptions>;
  sweepIntervalMs?: number;
  webhookIntervalMs?: number;
}

export interface Services {
  workers: Workers | null;
  stop: () => Promise<void>;
}

export async function startServices(runtime: NodeRuntime, options: ServicesOptions): Promise<Services> {
  const { deps, dataDir } = runtime;
  const workersEnv = parseWorkersEnv(options.processEnv ?? process.env);

  const modelDir = options.env.RFT_BASE_MODEL_DIR ? resolve(options.env.RFT_BASE_MODEL_DIR) : TINY_MODEL_DIR;
  if (existsSync(resolve(modelDir, "config.json"))) {
    await registerBaseModel(deps, basename(modelDir), modelDir);
  } else if (options.env.RFT_BASE_MODEL_DIR) {
    throw new Error(`RFT_BASE_MODEL_DIR: ${modelDir} has no config.json (not a Hugging Face model folder)`);
  }
  for (const hubId of options.env.RFT_HUB_MODELS) await registerHubModel(deps, hubId);

  const workers =
    workersEnv.RFT_WORKERS === "1"
      ? startWorkers(deps, {
          queue: deps.queue,
          apiBaseUrl: workersEnv.RFT_RUNNER_API_URL ?? options.apiBaseUrl,
          dataDir,
          backend: options.backend ?? backendFrom(workersEnv, dataDir),
          heartbeatTimeoutMs: workersEnv.RFT_HEARTBEAT_TIMEOUT_MS,
          startTimeoutMs: workersEnv.RFT_RUN_START_TIMEOUT_MS,
          pollMs: workersEnv.RFT_QUEUE_POLL_MS,
          ...options.workerOptions,
        })
      : null;
  const webhooks = startWebhookDeliverer(deps, { intervalMs: options.webhookIntervalMs ?? 1000 });

  const sweep = async () => {
    await expireUploads(deps).catch((err) => console.error("upload expiry failed:", err));
    await expireFiles(deps).catch((err) => console.error("file expiry failed:", err));
  };
  const timer = setInterval(() => void sweep(), options.sweepIntervalMs ?? 60_000);
  timer.unref();
  void sweep();

  return {
    workers,
    stop: async () => {
      clearInterval(timer);
      await Promise.all([workers?.stop(), webhooks.stop()]);
    },
  };
}
