/**
 * The workers' part of the environment, parsed once at start-up by zod (a bad value names its variable), and the
 * one place the runner backend is chosen. The Node entry calls `parseWorkersEnv(process.env)` and
 * `backendFrom(env, dataDir)`, then `startWorkers`.
 */
import { z } from "zod";
import { hasEnginePython } from "../gpu-runner/supervisor/python.ts";
import { createKubernetesBackend } from "./backends/kubernetes.ts";
import { createLocalBackend } from "./backends/local.ts";
import type { RunnerBackend } from "./backends/port.ts";

const int = (min: number) => z.coerce.number().int().min(min);
/** `a=b,c=d` → `{a: "b", c: "d"}`. */
const pairs = z.string().transform((s) =>
  Object.fromEntries(
    s
      .split(",")
      .filter(Boolean)
      .map((p) => p.split("=").map((x) => x.trim()) as [string, string]),
  ),
);
const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
);

export const WorkersEnv = z
  .object({
    /** `0` runs the API without workers (another process runs them against the same database). */
    RFT_WORKERS: z.enum(["0", "1"]).default("1"),
    RFT_RUNNER_BACKEND: z.enum(["local", "kubernetes"]).default("local"),
    /** The API's URL as runners reach it; default `http://127.0.0.1:<PORT>` (fine for the local backend only). */
    RFT_RUNNER_API_URL: z.url().optional(),
    RFT_HEARTBEAT_TIMEOUT_MS: int(1_000).default(60_000),
    RFT_RUN_START_TIMEOUT_MS: int(1_000).default(15 * 60_000),
    RFT_QUEUE_POLL_MS: int(10).default(500),
    /**
     * Local backend: supervisors kept started with their engine up, waiting for a run (cuts ~5 s of python and torch
     * start from every run's start; each holds ~0.5 GB of memory while it waits). 0: every run starts cold.
     */
    RFT_LOCAL_WARM_RUNNERS: int(0).default(1),
    RFT_K8S_IMAGE: z.string().min(1).optional(),
    RFT_K8S_NAMESPACE: z.string().default("rft-runners"),
    RFT_K8S_API_SERVER: z.url().optional(),
    RFT_K8S_TOKEN_FILE: z.string().optional(),
    RFT_K8S_GPUS: int(0).default(1),
    RFT_K8S_GPU_RESOURCE: z.string().default("nvidia.com/gpu"),
    RFT_K8S_CPU: z.string().default("8"),
    RFT_K8S_MEMORY: z.string().default("64Gi"),
    RFT_K8S_SCRATCH: z.string().default("200Gi"),
    RFT_K8S_NODE_SELECTOR: pairs.optional(),
    RFT_K8S_IMAGE_PULL_SECRETS: list.optional(),
    RFT_K8S_CACHE_CLAIM: z.string().optional(),
    RFT_K8S_PRIORITY_CLASS: z.string().optional(),
    RFT_K8S_ACTIVE_DEADLINE_SECONDS: int(1).optional(),
    RFT_K8S_TTL_SECONDS: int(0).default(3600),
  })
  .superRefine((env, ctx) => {
    if (env.RFT_RUNNER_BACKEND === "kubernetes") {
      if (!env.RFT_K8S_IMAGE)
        ctx.addIssue({
          code: "custom",
          path: ["RFT_K8S_IMAGE"],
          message: "is required when RFT_RUNNER_BACKEND=kubernetes",
        });
      if (!env.RFT_RUNNER_API_URL) {
        ctx.addIssue({
          code: "custom",
          path: ["RFT_RUNNER_API_URL"],
          message: "is required when RFT_RUNNER_BACKEND=kubernetes (pods cannot reach 127.0.0.1)",
        });
      }
    }
  });
export type WorkersEnv = z.infer<typeof WorkersEnv>;

export function parseWorkersEnv(source: Record<string, string | undefined>): WorkersEnv {
  const result = WorkersEnv.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
  throw new Error(`Invalid environment:\n${lines.join("\n")}`);
}

export function backendFrom(env: WorkersEnv, dataDir: string): RunnerBackend {
  if (env.RFT_RUNNER_BACKEND === "local") {
    // Without the engine's python a warm runner cannot help: every run would fail the same way, cold or warm.
    return createLocalBackend({ dataDir, warmRunners: hasEnginePython() ? env.RFT_LOCAL_WARM_RUNNERS : 0 });
  }
  return createKubernetesBackend({
    image: env.RFT_K8S_IMAGE!,
    namespace: env.RFT_K8S_NAMESPACE,
    gpus: env.RFT_K8S_GPUS,
    gpuResource: env.RFT_K8S_GPU_RESOURCE,
    cpu: env.RFT_K8S_CPU,
    memory: env.RFT_K8S_MEMORY,
    scratch: env.RFT_K8S_SCRATCH,
    ttlSecondsAfterFinished: env.RFT_K8S_TTL_SECONDS,
    ...(env.RFT_K8S_API_SERVER ? { apiServer: env.RFT_K8S_API_SERVER } : {}),
    ...(env.RFT_K8S_TOKEN_FILE ? { tokenFile: env.RFT_K8S_TOKEN_FILE } : {}),
    ...(env.RFT_K8S_NODE_SELECTOR ? { nodeSelector: env.RFT_K8S_NODE_SELECTOR } : {}),
    ...(env.RFT_K8S_IMAGE_PULL_SECRETS ? { imagePullSecrets: env.RFT_K8S_IMAGE_PULL_SECRETS } : {}),
    ...(env.RFT_K8S_CACHE_CLAIM ? { cacheClaim: env.RFT_K8S_CACHE_CLAIM } : {}),
    ...(env.RFT_K8S_PRIORITY_CLASS ? { priorityClassName: env.RFT_K8S_PRIORITY_CLASS } : {}),
    ...(env.RFT_K8S_ACTIVE_DEADLINE_SECONDS ? { activeDeadlineSeconds: env.RFT_K8S_ACTIVE_DEADLINE_SECONDS } : {}),
  });
}
