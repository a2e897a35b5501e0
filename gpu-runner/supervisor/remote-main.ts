/**
 * The GPU runner's supervisor, HTTP mode (what a runner backend launches):
 *
 *   RFT_API_URL=http://api:8787 RFT_RUN_TOKEN=rft-run-… npx tsx gpu-runner/supervisor/remote-main.ts
 *   npx tsx gpu-runner/supervisor/remote-main.ts --api http://api:8787 --token rft-run-… [--work-dir D] [--cache-dir C]
 *   node --import tsx gpu-runner/supervisor/remote-main.ts --warm        (started by the local backend, see below)
 *
 * Fetches its spec over the runner protocol, downloads the files (streamed to disk; base models into a cache keyed
 * by their object keys and sizes, shared by runs on the same machine), puts the resume checkpoint where the loop
 * looks for it, writes the folder-mode spec (`<work>/spec.json`, to re-run by hand with main.ts), runs the loop
 * with the HTTP RunnerIO, and reports the final status. An engine crash is reported as `failed` with the engine's
 * last stderr lines. A failure that is not the job's fault (the API or the store unreachable) exits without a final
 * status, so the reaper gives the job to a new run.
 *
 * The trainer engine starts first, beside the spec fetch and the downloads (`early-engine.ts`), so the python and
 * torch imports are paid while the network works. With `--warm` the runner starts its engine and then waits for a
 * run on its IPC channel (`{type: "run", api_url, token, work_dir, cache_dir?}`, never on the command line, where
 * `ps` shows it); it tells its parent `{type: "listening"}` at once and `{type: "ready"}` once the engine is up, and
 * exits if the parent goes away before handing it a run. Once it has its run it cuts the channel and lives on its
 * own, like a cold runner.
 *
 * Exit code: 0 succeeded, cancelled, paused or nothing to run; 1 failed; 2 bad usage; 3 infrastructure trouble
 * (requeue); 4 a warm runner whose engine could not start (the local backend then starts runners cold).
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { STATE_FILE } from "./checkpoints.ts";
import { EarlyEngine } from "./early-engine.ts";
import { HttpRunnerIO, type RemoteFile, type RemoteSpec, RunnerClient, RunnerHttpError } from "./http-io.ts";
import { runJob } from "./loop.ts";
import { parseSpec, type RunSpec } from "./spec.ts";

const log = (line: string) => process.stderr.write(`[runner ${new Date().toISOString()}] ${line}\n`);

/** The run's RunnerIO once there is one: a stop signal sends what it holds before the process goes. */
let activeIO: HttpRunnerIO | null = null;
const STOP_FLUSH_MS = 3_000;
process.once("SIGTERM", () => {
  // Cancel (the local backend signals the process group) or a deleted pod: buffered events and metrics go out first,
  // for at most a few seconds, then the process ends as the signal would have ended it.
  const bye = () => process.exit(143);
  setTimeout(bye, STOP_FLUSH_MS).unref();
  if (!activeIO) return bye();
  log("stopping (SIGTERM): sending buffered events first");
  activeIO.close().then(bye, bye);
});

/** What the local backend sends a warm runner: its run. */
const Assignment = z.object({
  type: z.literal("run"),
  api_url: z.string().min(1),
  token: z.string().min(1),
  work_dir: z.string().min(1),
  cache_dir: z.string().min(1).optional(),
});
type Assignment = z.infer<typeof Assignment>;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      api: { type: "string" },
      token: { type: "string" },
      "work-dir": { type: "string" },
      "cache-dir": { type: "string" },
      warm: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  let apiUrl = values.api ?? process.env.RFT_API_URL;
  let token = values.token ?? process.env.RFT_RUN_TOKEN;
  if (values.help || (!values.warm && (!apiUrl || !token))) {
    process.stderr.write(
      "usage: remote-main.ts --api URL --token TOKEN [--work-dir DIR] [--cache-dir DIR]  (or RFT_API_URL, RFT_RUN_TOKEN)\n" +
        "       remote-main.ts --warm   (the run arrives on the IPC channel)\n",
    );
    return values.help ? 0 : 2;
  }
  const early = new EarlyEngine();
  let workDirArg = values["work-dir"] ?? process.env.RFT_WORK_DIR;
  let cacheDirArg = values["cache-dir"] ?? process.env.RFT_CACHE_DIR;
  if (values.warm) {
    const assignment = await waitForRun(early);
    if (assignment === "engine_failed") return 4;
    if (!assignment) {
      await early.dispose();
      return 0;
    }
    apiUrl = assignment.api_url;
    token = assignment.token;
    workDirArg = assignment.work_dir;
    cacheDirArg = assignment.cache_dir ?? cacheDirArg;
  }
  const workDir = path.resolve(workDirArg ?? "rft-run");
  const cacheDir = path.resolve(cacheDirArg ?? path.join(workDir, "cache"));
  mkdirSync(workDir, { recursive: true });
  const engineLog = path.join(workDir, "engine.log");
  const tail: string[] = [];
  early.attach((line) => {
    appendFileSync(engineLog, `${line}\n`);
    tail.push(line);
    if (tail.length > 30) tail.shift();
  });
  try {
    return await runAssigned(apiUrl!, token!, workDir, cacheDir, early, tail);
  } finally {
    await early.dispose();
  }
}

/**
 * A warm runner's wait: tells the parent when the engine is up, then resolves with the run it is handed, `null`
 * when the parent went away first (nothing to do), or `engine_failed` when the engine could not start.
 */
async function waitForRun(early: EarlyEngine): Promise<Assignment | null | "engine_failed"> {
  if (!process.send) {
    log("--warm needs an IPC channel to its parent (the local backend starts warm runners)");
    return null;
  }
  return new Promise((resolve) => {
    const done = (value: Assignment | null | "engine_failed") => {
      process.off("message", onMessage);
      if (process.connected) process.disconnect();
      resolve(value);
    };
    const onMessage = (message: unknown) => {
      const parsed = Assignment.safeParse(message);
      if (!parsed.success) {
        log(`warm runner: ignoring a message that is not a run: ${parsed.error.issues[0]?.message}`);
        return;
      }
      log(`warm runner: got a run, work folder ${parsed.data.work_dir}`);
      done(parsed.data);
    };
    process.on("message", onMessage);
    process.once("disconnect", () => resolve(null));
    process.send?.({ type: "listening" });
    early.ready().then((ok) => {
      if (!ok) {
        log("warm runner: the trainer engine could not start; exiting");
        done("engine_failed");
        return;
      }
      log("warm runner: engine ready, waiting for a run");
      if (process.connected) process.send?.({ type: "ready" });
    });
  });
}

async function runAssigned(
  apiUrl: string,
  token: string,
  workDir: string,
  cacheDir: string,
  early: EarlyEngine,
  tail: string[],
): Promise<number> {
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

  const io = new HttpRunnerIO(client, {
    heartbeatIntervalMs: spec.heartbeat_interval_ms,
    pruneOlderLocalCheckpoints: true,
    failureContext: () => (tail.length ? `last engine output:\n${tail.join("\n")}` : undefined),
  });
  io.startKeepalive(spec.resume?.step ?? 0);
  activeIO = io;

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

  const result = await runJob(runSpec, { io, startEngine: () => early.take() });
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

  // Side by side: the data, the base model (usually already in the cache) and the resume checkpoint.
  const training = path.join(dataDir, "train.jsonl");
  const validation = spec.validation_file ? path.join(dataDir, "valid.jsonl") : null;
  const [, , modelDir] = await Promise.all([
    client.download(spec.training_file, training),
    spec.validation_file && validation ? client.download(spec.validation_file, validation) : null,
    spec.model.hub ? spec.model.hub : cachedModel(client, io, spec.model.id, spec.model.files, cacheDir),
    spec.resume ? placeCheckpoint(client, spec.resume, outputDir) : null,
  ]);

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
 * final checkpoint carries an ONNX export unless `RFT_EXPORT_ONNX` says `never` (or `every`). A pause saves a
 * checkpoint and ends the run, so a paused job holds no machine; resume starts a new run from that checkpoint.
 */
function runtimeFromEnv(): Record<string, unknown> {
  const out: Record<string, unknown> = { export_onnx: process.env.RFT_EXPORT_ONNX ?? "final", on_pause: "exit" };
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
