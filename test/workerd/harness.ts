/**
 * Runs the REAL Workers bundle (what `wrangler deploy` would upload) in workerd through Miniflare, bound as
 * wrangler.toml binds it: D1 `DB`, R2 `BUCKET`, the `JOBS` queue and its consumer (the Worker's own `queue`
 * handler). The database gets every migration and an API key, inserted the way the Node server stores keys
 * (sha256 hex of the secret). Everything listens on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import OpenAI from "openai";
import { sha256Hex } from "../../api/lib/hash.ts";
import { ID_PREFIX, newId } from "../../api/lib/ids.ts";
import type { R2BucketLike } from "../../storage/r2.ts";
import { miniflareOptionsFrom, readWranglerToml } from "./wrangler-config.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE_NAME = "entry-worker.js";

/** wrangler reaches for the network for metrics and `request.cf` unless told not to. */
export const OFFLINE_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/** Bundles the Worker with `scripts/build-worker.sh` (wrangler deploy --dry-run) into a new temp folder. */
export async function buildWorkerBundle(): Promise<{ dir: string; script: string }> {
  const dir = await mkdtemp(join(tmpdir(), "rft-worker-bundle-"));
  await promisify(execFile)("bash", [join(ROOT, "scripts/build-worker.sh"), dir], {
    cwd: tmpdir(), // the script must work from anywhere
    env: { ...process.env, ...OFFLINE_ENV },
  });
  return { dir, script: join(dir, BUNDLE_NAME) };
}

/** Every `db/migrations/*.sql` in order, cut into statements as drizzle-kit writes them. */
export async function migrationStatements(): Promise<string[]> {
  const dir = join(ROOT, "db/migrations");
  const names = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  const statements: string[] = [];
  for (const name of names) {
    const sql = await readFile(join(dir, name), "utf8");
    statements.push(
      ...sql
        .split("--> statement-breakpoint")
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return statements;
}

export interface WorkerdApi {
  mf: Miniflare;
  origin: string;
  baseURL: string;
  apiKey: string;
  projectId: string;
  client: OpenAI;
  /** Node-side proxies of the Worker's own bindings (the same D1 database and R2 bucket the Worker uses). */
  db: Awaited<ReturnType<Miniflare["getD1Database"]>>;
  bucket: R2BucketLike;
  stop(): Promise<void>;
}

/**
 * Starts `script` in workerd with wrangler.toml's bindings plus `vars`; migrates D1 and seeds one admin key.
 * `queueBatchTimeoutSeconds` shortens the consumer's batch wait (the platform default is seconds) so the test
 * sees queue deliveries quickly; `port` fixes the port, for vars that must name the Worker's own URL (default: a
 * free one); everything else is as deployed.
 */
export async function startWorkerdApi(
  bundle: { dir: string; script: string },
  vars: Record<string, string> = {},
  options: { queueBatchTimeoutSeconds?: number; port?: number } = {},
): Promise<WorkerdApi> {
  const wrangler = miniflareOptionsFrom(readWranglerToml(join(ROOT, "wrangler.toml")));
  const apiKey = "sk-rft-workerd-test-key-0123456789";
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: options.port ?? 0,
    modules: true,
    modulesRoot: bundle.dir,
    scriptPath: bundle.script,
    ...wrangler,
    bindings: { ...wrangler.bindings, RFT_API_KEY: apiKey, ...vars },
    queueConsumers: Object.fromEntries(
      Object.entries(wrangler.queueConsumers).map(([queue, consumer]) => [
        queue,
        { ...consumer, maxBatchTimeout: options.queueBatchTimeoutSeconds ?? 0.05 },
      ]),
    ),
  });
  try {
    const url = await mf.ready;
    const db = await mf.getD1Database("DB");
    // Typed by the adapter's structural subset: Miniflare's own type needs @cloudflare/workers-types.
    const bucket = (await mf.getR2Bucket("BUCKET")) as unknown as R2BucketLike;
    await db.batch((await migrationStatements()).map((sql) => db.prepare(sql)));
    const projectId = newId(ID_PREFIX.project);
    const now = Math.floor(Date.now() / 1000);
    await db.batch([
      db.prepare("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)").bind(projectId, "default", now),
      db
        .prepare("INSERT INTO api_keys (id, project_id, hash, hint, role, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(newId(ID_PREFIX.apiKey), projectId, await sha256Hex(apiKey), apiKey.slice(0, 10), "admin", now),
    ]);
    const origin = url.origin;
    const baseURL = `${origin}/v1`;
    return {
      mf,
      origin,
      baseURL,
      apiKey,
      projectId,
      client: new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 }),
      db,
      bucket,
      stop: () => mf.dispose(),
    };
  } catch (err) {
    await mf.dispose();
    throw err;
  }
}

/** A port that was free a moment ago on 127.0.0.1 (for a Worker whose vars must name its own URL). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const removeBundle = (bundle: { dir: string }) => rm(bundle.dir, { recursive: true, force: true });

/** Polls `read` until `done` holds or `timeoutMs` passes, and returns the last value (the queue consumer, waitUntil
 * work and the cron run after the response, so tests wait for what they cause). */
export async function eventually<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
