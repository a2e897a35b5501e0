/**
 * Upload throughput and server memory: the Uploads API against a straight S3 put of the same bytes.
 *
 *   npx tsx bench/upload/run.ts                    # 256 MB and 1024 MB (one fresh server each)
 *   npx tsx bench/upload/run.ts --mb 64 --mb 512   # other sizes
 *   options: --part-mb 64  --parallel 3  --direct-part-mb 8  --local-store  --tsx
 *
 * For each size: starts fauxqs (in this process) and the API server as a child process with S3 settings, the way
 * `npm start` runs it (`node dist/node/server.mjs`, built by scripts/build-server.sh; `--tsx` runs the sources
 * with tsx instead), so the child's pid is the server's and its peak RSS is /proc/<pid>/status VmHWM), streams a generated JSONL dataset of that size (never held in memory) through
 * `POST /v1/uploads` + parts (a few in parallel) + complete, waits for background validation, then puts the same
 * bytes straight to the same fauxqs with the AWS SDK (lib-storage Upload). Prints both throughputs, their ratio
 * (goal >= 0.8) and the server's peak RSS (goal < 250 MB, flat as the size grows).
 *
 * Complete copies nothing (the file is its part objects), so the API's time is the parts' time plus one request.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import OpenAI from "openai";
import { type S3TestServer, startFauxqs } from "../../test/helpers/s3-servers.ts";

const MB = 1024 * 1024;
const LINE_BYTES = 256;
const API_KEY = "sk-rft-bench-upload-key-0123456789";
const ROOT = resolve(import.meta.dirname, "../..");

interface Options {
  sizesMb: number[];
  partMb: number;
  parallel: number;
  /** Run the server from its TypeScript sources with tsx instead of the bundle `npm start` runs. */
  tsx: boolean;
  directPartMb: number;
  /** `local`: the API server stores on its local directory instead (the direct put still goes to fauxqs). */
  store: "s3" | "local";
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sizesMb: [], partMb: 64, parallel: 3, tsx: false, directPartMb: 8, store: "s3" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => Number(argv[++i]);
    if (arg === "--mb") options.sizesMb.push(next());
    else if (arg === "--part-mb") options.partMb = next();
    else if (arg === "--parallel") options.parallel = next();
    else if (arg === "--direct-part-mb") options.directPartMb = next();
    else if (arg === "--tsx") options.tsx = true;
    else if (arg === "--local-store") options.store = "local";
    else throw new Error(`unknown argument ${arg}`);
  }
  if (options.sizesMb.length === 0) options.sizesMb = [256, 1024];
  return options;
}

/** One MiB of RFT lines, each exactly 256 bytes; the dataset is this block repeated (valid JSONL, any MiB count). */
function datasetBlock(): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < MB / LINE_BYTES; i++) {
    const head = `{"messages":[{"role":"user","content":"Add ${i} and ${i}. `;
    const tail = `"}],"answer":"${i + i}"}\n`;
    lines.push(head + "x".repeat(LINE_BYTES - head.length - tail.length) + tail);
  }
  const block = new TextEncoder().encode(lines.join(""));
  if (block.length !== MB) throw new Error("dataset block is not 1 MiB");
  return block;
}

/** `bytes` of the dataset (a whole number of MiB) as a stream, generated as it is read. */
function datasetStream(block: Uint8Array, bytes: number, prefix?: Uint8Array, suffix?: Uint8Array) {
  let sent = 0;
  let stage: "prefix" | "body" | "suffix" | "done" = prefix ? "prefix" : "body";
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stage === "prefix") {
        controller.enqueue(prefix as Uint8Array);
        stage = "body";
      } else if (stage === "body") {
        const n = Math.min(MB, bytes - sent);
        controller.enqueue(n === MB ? block : block.subarray(0, n));
        sent += n;
        if (sent >= bytes) stage = suffix ? "suffix" : "done";
      } else if (stage === "suffix") {
        controller.enqueue(suffix as Uint8Array);
        stage = "done";
      }
      if (stage === "done") controller.close();
    },
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
    srv.on("error", reject);
  });
}

/** Starts the API server as a child (the child's pid is the server process itself). */
async function startApi(
  s3: S3TestServer | null,
  dataDir: string,
  options: Options,
): Promise<{ child: ChildProcess; baseURL: string; log: () => string }> {
  const port = await freePort();
  const args = options.tsx ? ["--import", "tsx", "api/entry-node.ts"] : ["dist/node/server.mjs"];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      RFT_DATA_DIR: dataDir,
      RFT_API_KEY: API_KEY,
      ...(s3 && {
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_FORCE_PATH_STYLE: "true",
      }),
      AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: "1",
    },
  });
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`API server exited:\n${log}`);
    try {
      if ((await fetch(`${origin}/health`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`API server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, baseURL: `${origin}/v1`, log: () => log };
}

/** Peak resident set of `pid` in MB (VmHWM), from /proc. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Sends one part as a streamed multipart body (never buffered here either). */
async function sendPart(baseURL: string, uploadId: string, block: Uint8Array, bytes: number): Promise<string> {
  const boundary = `----rft-bench-${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  const head = enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="part"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const response = await fetch(`${baseURL}/uploads/${uploadId}/parts`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${API_KEY}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
      "content-length": String(head.length + bytes + tail.length),
    },
    body: datasetStream(block, bytes, head, tail),
    duplex: "half",
  } as RequestInit);
  const body = (await response.json()) as { id?: string; error?: unknown };
  if (!response.ok || !body.id) throw new Error(`part failed: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

async function viaApi(baseURL: string, block: Uint8Array, bytes: number, options: Options, pid: number) {
  const client = new OpenAI({ apiKey: API_KEY, baseURL, maxRetries: 0, timeout: 3_600_000 });
  const partBytes = options.partMb * MB;
  const count = Math.ceil(bytes / partBytes);
  const started = performance.now();
  const upload = await client.uploads.create({
    bytes,
    filename: "bench.jsonl",
    mime_type: "application/jsonl",
    purpose: "fine-tune",
  });
  const partIds: string[] = new Array(count);
  let nextPart = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.parallel, count) }, async () => {
      while (nextPart < count) {
        const index = nextPart++;
        const size = Math.min(partBytes, bytes - index * partBytes);
        partIds[index] = await sendPart(baseURL, upload.id, block, size);
      }
    }),
  );
  const partsDone = performance.now();
  const done = await client.uploads.complete(upload.id, { part_ids: partIds });
  const completed = performance.now();
  const rssBeforeValidation = peakRssMb(pid);
  const file = await client.files.waitForProcessing(done.file?.id as string, { pollInterval: 200, maxWait: 3_600_000 });
  const validated = performance.now();
  if (file.status !== "processed" || file.bytes !== bytes) {
    throw new Error(`unexpected file: ${JSON.stringify(file)}`);
  }
  await client.files.delete(file.id);
  return {
    rssBeforeValidation,
    seconds: (completed - started) / 1000,
    partsSeconds: (partsDone - started) / 1000,
    completeSeconds: (completed - partsDone) / 1000,
    validateSeconds: (validated - completed) / 1000,
  };
}

async function direct(s3: S3TestServer, block: Uint8Array, bytes: number, options: Options) {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const started = performance.now();
  const body = Readable.fromWeb(datasetStream(block, bytes) as import("node:stream/web").ReadableStream);
  await new Upload({
    client,
    params: { Bucket: s3.bucket, Key: "bench/direct.jsonl", Body: body, ContentType: "application/jsonl" },
    partSize: options.directPartMb * MB,
    queueSize: 4,
  }).done();
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  return { seconds };
}

async function runSize(sizeMb: number, block: Uint8Array, options: Options) {
  const bytes = sizeMb * MB;
  const s3 = await startFauxqs();
  const dataDir = mkdtempSync(join(tmpdir(), "rft-bench-upload-"));
  const { child, baseURL, log } = await startApi(options.store === "s3" ? s3 : null, dataDir, options);
  try {
    const api = await viaApi(baseURL, block, bytes, options, child.pid as number).catch((err: unknown) => {
      console.error(`server log:\n${log().slice(-4000)}`);
      throw err;
    });
    const rss = peakRssMb(child.pid as number);
    const straight = await direct(s3, block, bytes, options);
    return { sizeMb, api, straight, rss };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await s3.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const block = datasetBlock();
  if (!options.tsx) execFileSync("bash", ["scripts/build-server.sh"], { cwd: ROOT, stdio: "inherit" });
  console.log(
    `upload bench: parts of ${options.partMb} MB, ${options.parallel} in parallel; server ${options.tsx ? "tsx api/entry-node.ts" : "dist/node/server.mjs"}`,
  );
  const rows = [];
  for (const sizeMb of options.sizesMb) {
    const r = await runSize(sizeMb, block, options);
    rows.push(r);
    const mbps = (s: number) => (sizeMb / s).toFixed(1);
    console.log(
      [
        `${sizeMb} MB:`,
        `API ${mbps(r.api.seconds)} MB/s (${r.api.seconds.toFixed(1)} s: parts ${r.api.partsSeconds.toFixed(1)} s, complete ${r.api.completeSeconds.toFixed(1)} s)`,
        `direct S3 ${mbps(r.straight.seconds)} MB/s (${r.straight.seconds.toFixed(1)} s)`,
        `ratio ${(r.straight.seconds / r.api.seconds).toFixed(2)} (goal >= 0.8)`,
        `parts-only ratio ${(r.straight.seconds / r.api.partsSeconds).toFixed(2)}`,
        `server peak RSS ${r.rss.toFixed(0)} MB (goal < 250; ${r.api.rssBeforeValidation.toFixed(0)} MB before background validation)`,
        `background validation ${mbps(r.api.validateSeconds)} MB/s (${r.api.validateSeconds.toFixed(1)} s)`,
      ].join("  |  "),
    );
  }
  const rss = rows.map((r) => `${r.sizeMb} MB → ${r.rss.toFixed(0)} MB`).join(", ");
  console.log(`peak RSS by size: ${rss}`);
}

await main();
