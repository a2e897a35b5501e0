/**
 * The real API for runner-protocol and dispatch tests: `buildNodeDeps` + `createApp` served on 127.0.0.1, exactly as
 * the Node entry does, with the table queue in the deps. If the app factory does not mount the runner routes yet,
 * they are mounted here at `/runner`, where the Node entry mounts them. Also seeds jobs directly in the database
 * (a processed training file, a registered base model), which keeps these tests independent of the Jobs API.
 *
 * While other resources are being built in the same tree, `createApp` may fail to load (another module mid-edit):
 * then the same pieces are assembled here (libsql + migrations, local store, the API's error handler, the runner
 * routes at `/runner`), and a line says so. Only the runner routes are under test, so nothing is lost but noise.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { OpenAPIHono } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { parseEnv } from "../../api/config.ts";
import type { AppDeps } from "../../api/deps.ts";
import { errorHandler } from "../../api/errors.ts";
import { sha256Hex } from "../../api/lib/hash.ts";
import { ID_PREFIX, newId } from "../../api/lib/ids.ts";
import { registerBaseModel } from "../../api/models/node-register.ts";
import { runnerRoutes } from "../../api/routes/runner.ts";
import { openNodeDb } from "../../db/node.ts";
import { files, jobs, projects } from "../../db/schema/index.ts";
import { createLocalStore } from "../../storage/local.ts";
import type { RunLaunch, RunnerBackend } from "../../workers/backends/port.ts";
import { createTableQueue, type TableQueue } from "../../workers/queue-table.ts";

export interface RunnerServer {
  origin: string;
  deps: AppDeps;
  queue: TableQueue;
  dataDir: string;
  stop: () => Promise<void>;
}

export async function startRunnerServer(): Promise<RunnerServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "rft-runner-test-"));
  const env = parseEnv({ RFT_DATA_DIR: dataDir, PORT: "0" });
  const full = await Promise.all([import("../../api/app.ts"), import("../../api/node-deps.ts")]).catch((err: Error) => {
    console.warn(`runner harness: the full app does not load (${err.message}); serving the runner routes alone`);
    return null;
  });
  let runtime: { deps: Omit<AppDeps, "queue"> & Partial<AppDeps>; close: () => Promise<void> };
  if (full) {
    runtime = await full[1].buildNodeDeps(env);
  } else {
    const { db, close } = await openNodeDb(join(dataDir, "rft.db"));
    const store = createLocalStore(join(dataDir, "objects"));
    const limits = { maxFileBytes: 1e9, maxUploadBytes: 1e9, maxPartBytes: 1e8, maxLineBytes: 1e7 };
    runtime = {
      deps: { db, store, limits, graders: {} as AppDeps["graders"], background: () => {} },
      close: async () => close(),
    };
  }
  const given = runtime.deps.queue as Partial<TableQueue> | undefined;
  const queue = given?.lease ? (given as TableQueue) : createTableQueue(runtime.deps.db);
  const deps = { ...runtime.deps, queue } as AppDeps;
  let app: OpenAPIHono;
  if (full) {
    app = full[0].createApp(deps) as unknown as OpenAPIHono;
  } else {
    app = new OpenAPIHono();
    app.onError(errorHandler);
  }
  if (!app.routes.some((r) => r.path.startsWith("/runner/"))) app.route("/runner", runnerRoutes(deps));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    deps,
    queue,
    dataDir,
    stop: async () => {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SeededJob {
  jobId: string;
  projectId: string;
  model: string;
  trainingText: string;
}

const TRAIN_LINES = Array.from({ length: 8 }, (_, i) =>
  JSON.stringify({ messages: [{ role: "user", content: `What is ${i} + ${i}?` }], answer: String(i + i) }),
);

/** A project, a processed training (and validation) file, a base model with two small files, and a job row. */
export async function seedJob(
  deps: AppDeps,
  options: {
    status?: "validating_files" | "queued";
    totalSteps?: number;
    maxAttempts?: number;
    validation?: boolean;
    model?: string;
    /** A real Hugging Face folder to register as the base model (default: two small stand-in files). */
    modelDir?: string;
    trainingText?: string;
    validationText?: string;
    resolved?: Record<string, unknown>;
    grader?: Record<string, unknown>;
  } = {},
): Promise<SeededJob> {
  const { db, store } = deps;
  const projectId = newId(ID_PREFIX.project);
  await db.insert(projects).values({ id: projectId, name: `p-${projectId.slice(-6)}` });
  const model = options.model ?? "tiny-test-model";
  if (options.modelDir) {
    await registerBaseModel({ db, store }, model, options.modelDir);
  } else {
    const modelDir = mkdtempSync(join(tmpdir(), "rft-model-"));
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 8 }));
    writeFileSync(join(modelDir, "model.safetensors"), Buffer.alloc(64 * 1024, 7));
    await registerBaseModel({ db, store }, model, modelDir);
    rmSync(modelDir, { recursive: true, force: true });
  }

  const trainingText = options.trainingText ?? `${TRAIN_LINES.join("\n")}\n`;
  const addFile = async (name: string, text: string) => {
    const id = newId(ID_PREFIX.file);
    const key = `files/${projectId}/${id}`;
    const put = await store.put(key, new Blob([text]).stream(), { contentLength: Buffer.byteLength(text) });
    await db.insert(files).values({
      id,
      projectId,
      filename: name,
      purpose: "fine-tune",
      bytes: put.bytes,
      sha256: put.sha256,
      objectKey: key,
      status: "processed",
      stats: { lines: TRAIN_LINES.length, format: "reinforcement" },
    });
    return id;
  };
  const trainingFile = await addFile("train.jsonl", trainingText);
  const validationFile =
    options.validation === false
      ? null
      : await addFile("valid.jsonl", options.validationText ?? `${TRAIN_LINES.slice(0, 2).join("\n")}\n`);
  const totalSteps = options.totalSteps ?? 4;
  const jobId = newId(ID_PREFIX.job);
  await db.insert(jobs).values({
    id: jobId,
    projectId,
    model,
    trainingFile,
    validationFile,
    suffix: "unit",
    seed: 7,
    method: {
      type: "reinforcement",
      reinforcement: {
        grader: options.grader ?? {
          type: "string_check",
          name: "exact",
          input: "{{sample.output_text}}",
          reference: "{{item.answer}}",
          operation: "eq",
        },
      },
    },
    resolved: options.resolved ?? {
      n_epochs: 1,
      batch_size: 2,
      n: 4,
      learning_rate: 1e-3,
      eval_interval: 2,
      checkpoint_interval: 2,
      max_tokens: 16,
      total_steps: totalSteps,
    },
    status: options.status ?? "queued",
    resultFiles: [],
    totalSteps,
    maxAttempts: options.maxAttempts ?? 3,
    updatedAt: Date.now() * 1000,
  });
  return { jobId, projectId, model, trainingText };
}

export async function jobRow(deps: AppDeps, jobId: string) {
  return (await deps.db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1))[0]!;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  what = "condition",
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export { sha256Hex };

/** Test double of a backend: records launches instead of starting processes. */
export function recordingBackend() {
  const launches: RunLaunch[] = [];
  const backend: RunnerBackend = {
    name: "recording",
    launch: async (run) => {
      launches.push(run);
      return { ref: `rec:${run.runId}` };
    },
    cancel: async () => {},
    inspect: async () => "running",
  };
  return { backend, launches };
}
