/**
 * The GPU runner's supervisor, HTTP mode (what a runner backend launches):
 *
 *   RFT_API_URL=http://api:8787 RFT_RUN_TOKEN=rft-run-… npx tsx gpu-runner/supervisor/remote-main.ts
 *   npx tsx gpu-runner/supervisor/remote-main.ts --api http://api:8787 --token rft-run-… [--work-dir D] [--cache-dir C]
 *
 * Fetches its spec over the runner protocol, downloads the files (streamed to disk; base models into a cache keyed
 * by their object keys and sizes, shared by runs on the same machine), puts the resume checkpoint where the loop
 * looks for it, writes the folder-mode spec (`<work>/spec.json`, to re-run by hand with main.ts), runs the loop
 * with the HTTP RunnerIO, and reports the final status. An engine crash is reported as `failed` with the engine's
 * last stderr lines. A failure that is not the job's fault (the API or the store unreachable) exits without a final
 * status, so the reaper gives the job to a new run.
 *
 * Exit code: 0 succeeded, cancelled or nothing to run; 1 failed; 2 bad usage; 3 infrastructure trouble (requeue).
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { STATE_FILE } from "./checkpoints.ts";
import { HttpRunnerIO, type RemoteFile, type RemoteSpec, RunnerClient, RunnerHttpError } from "./http-io.ts";
import { runJob } from "./loop.ts";
import { parseSpec, type RunSpec } from "./spec.ts";

const log = (line: string) => process.stderr.write(`[runner ${new Date().toISOString()}] ${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      api: { type: "string" },
      token: { type: "string" },
      "work-dir": { type: "string" },
      "cache-dir": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const apiUrl = values.api ?? process.env.RFT_API_URL;
  const token = values.token ?? process.env.RFT_RUN_TOKEN;
  if (values.help || !apiUrl || !token) {
    process.stderr.write(
      "usage: remote-main.ts --api URL --token TOKEN [--work-dir DIR] [--cache-dir DIR]  (or RFT_API_URL, RFT_RUN_TOKEN)\n",
    );
    return values.help ? 0 : 2;
  }
  const workDir = path.resolve(values["work-dir"] ?? process.env.RFT_WORK_DIR ?? "rft-run");
  const cacheDir = path.resolve(values["cache-dir"] ?? process.env.RFT_CACHE_DIR ?? path.join(workDir, "cache"));
  mkdirSync(workDir, { recursive: true });

  const client = new RunnerClient({ apiUrl, token, log });
  let spec: RemoteSpec;
  try {
    spec = await client.spec();
  } catch (err) {
    if (err instanceof RunnerHttpError && err.code === "job_not_runnable") {
      log(`nothing to run: ${err.message}`);
      return 0;
    }
    log(`could not fetch the run spec: ${(err as Error).message}`);
    return err instanceof RunnerHttpError && err.permanent ? 2 : 3;
  }
  log(`job ${spec.job.id}, run ${spec.run.id} (attempt ${spec.run.attempt}/${spec.run.max_attempts})`);

  const engineLog = path.join(workDir, "engine.log");
  const tail: string[] = [];
  const io = new HttpRunnerIO(client, {
    heartbeatIntervalMs: spec.heartbeat_interval_ms,
    pruneOlderLocalCheckpoints: true,
    failureContext: () => (tail.length ? `last engine output:\n${tail.join("\n")}` : undefined),
  });
  io.startKeepalive(spec.resume?.step ?? 0);

  let runSpec: RunSpec;
  try {
    runSpec = await prepare(client, io, spec, workDir, cacheDir);
  } catch (err) {
    await io.close();
    if (isJobFault(err)) {
      await io
        .finish("failed", (err as Error).message)
        .catch((e) => log(`could not report the failure: ${(e as Error).message}`));
      return 1;
    }
    log(`giving the job back (infrastructure trouble): ${(err as Error).message}`);
    return 3;
  }

  const result = await runJob(runSpec, {
    io,
    engine: {
      onStderr: (line) => {
        appendFileSync(engineLog, `${line}\n`);
        tail.push(line);
        if (tail.length > 30) tail.shift();
      },
    },
  });
  await io.close();
  log(`${result.status} at step ${result.step}/${result.totalSteps}${result.error ? `: ${result.error}` : ""}`);
  return result.status === "failed" ? 1 : 0;
}

/** A failure the user must fix (bad spec, a file that is gone), as opposed to one a new run may not meet. */
class JobFault extends Error {}
const isJobFault = (err: unknown) => err instanceof JobFault || (err instanceof RunnerHttpError && err.permanent);

/** Downloads everything and builds the folder-mode spec. */
async function prepare(
  client: RunnerClient,
  io: HttpRunnerIO,
  spec: RemoteSpec,
  workDir: string,
  cacheDir: string,
): Promise<RunSpec> {
  const dataDir = path.join(workDir, "data");
  const outputDir = path.join(workDir, "output");
  const t0 = performance.now();

  const training = path.join(dataDir, "train.jsonl");
  await client.download(spec.training_file, training);
  const validation = spec.validation_file ? path.join(dataDir, "valid.jsonl") : null;
  if (spec.validation_file && validation) await client.download(spec.validation_file, validation);

  const modelDir = await cachedModel(client, io, spec.model.id, spec.model.files, cacheDir);
  if (spec.resume) await placeCheckpoint(client, spec.resume, outputDir);

  const input = {
    model: modelDir,
    training_file: training,
    validation_file: validation,
    grader: spec.grader,
    method: { type: spec.method.type, hyperparameters: spec.method.hyperparameters },
    output_dir: outputDir,
    resume: "auto",
    runtime: runtimeFromEnv(),
  };
  await writeFile(path.join(workDir, "spec.json"), `${JSON.stringify(input, null, 2)}\n`);
  let runSpec: RunSpec;
  try {
    runSpec = parseSpec(input);
  } catch (err) {
    throw new JobFault((err as Error).message);
  }
  const seconds = (performance.now() - t0) / 1000;
  await io.emit([
    {
      level: "info",
      message: `Runner ready in ${seconds.toFixed(1)} s: data and model downloaded${spec.resume ? `, resuming from the checkpoint at step ${spec.resume.step}` : ""}`,
      data: { prepare_s: seconds, resume_step: spec.resume?.step ?? null },
    },
  ]);
  return runSpec;
}

/**
 * Runtime settings an operator may set on the runner's machine (`RFT_DEVICE=cuda`, `RFT_DTYPE=bfloat16`). A job's
 * final checkpoint carries an ONNX export unless `RFT_EXPORT_ONNX` says `never` (or `every`).
 */
function runtimeFromEnv(): Record<string, unknown> {
  const out: Record<string, unknown> = { export_onnx: process.env.RFT_EXPORT_ONNX ?? "final" };
  if (process.env.RFT_DEVICE) out.device = process.env.RFT_DEVICE;
  if (process.env.RFT_DTYPE) out.dtype = process.env.RFT_DTYPE;
  return out;
}

/**
 * The base model's folder in the cache: `<cache>/models/<sha256 of the files' keys and sizes>/`, complete when
 * `.complete` exists. A second run of the same model on this machine downloads nothing.
 */
async function cachedModel(
  client: RunnerClient,
  io: HttpRunnerIO,
  id: string,
  files: RemoteFile[],
  cacheDir: string,
): Promise<string> {
  const fingerprint = createHash("sha256")
    .update(JSON.stringify(files.map((f) => [f.key, f.bytes]).sort()))
    .digest("hex")
    .slice(0, 32);
  const dir = path.join(cacheDir, "models", fingerprint);
  if (existsSync(path.join(dir, ".complete"))) return dir;
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  await io.emit([
    { level: "info", message: `Downloading base model ${id} (${files.length} files, ${(bytes / 1e6).toFixed(1)} MB)` },
  ]);
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await inParallel(files, 4, (f) => client.download(f, safeJoin(partial, f.name)));
  await writeFile(path.join(partial, ".complete"), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return dir;
}

/** Puts the resume checkpoint at `<output>/checkpoints/step-N/`, where the loop looks for its newest checkpoint. */
async function placeCheckpoint(
  client: RunnerClient,
  resume: NonNullable<RemoteSpec["resume"]>,
  outputDir: string,
): Promise<void> {
  const final = path.join(outputDir, "checkpoints", `step-${resume.step}`);
  // Same machine, same work folder (local backend): the checkpoint may already be here, complete.
  if (existsSync(path.join(final, STATE_FILE))) return;
  if (!resume.files.some((f) => f.name === STATE_FILE)) {
    throw new JobFault(`the checkpoint at step ${resume.step} has no ${STATE_FILE}, so training cannot resume from it`);
  }
  const partial = `${final}.partial`;
  await rm(partial, { recursive: true, force: true });
  await inParallel(resume.files, 4, (f) => client.download(f, safeJoin(partial, f.name)));
  await rm(final, { recursive: true, force: true });
  await rename(partial, final);
}

/** Runs `work` over `items`, at most `limit` at a time (model shards download side by side). */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** `dir/name` for a `/`-separated relative name, refusing anything that would leave `dir`. */
function safeJoin(dir: string, name: string): string {
  const out = path.resolve(dir, ...name.split("/"));
  if (!out.startsWith(path.resolve(dir) + path.sep))
    throw new JobFault(`refusing file name ${JSON.stringify(name)}: it leaves its folder`);
  return out;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 3;
  },
);
