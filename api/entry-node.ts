/**
 * The Node entry (`npm start`): the embedded default — SQLite file, local object store, in-process queue and
 * workers — all under RFT_DATA_DIR, or S3 when S3_BUCKET is set.
 */
import { serve } from "@hono/node-server";
import { ensureBootstrapKey } from "../db/queries/auth.ts";
import { createApp } from "./app.ts";
import { parseEnv } from "./config.ts";
import { buildNodeDeps } from "./node-deps.ts";
import { startServices } from "./node-services.ts";

const env = (() => {
  try {
    return parseEnv(process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
})();

const runtime = await buildNodeDeps(env);
const boot = await ensureBootstrapKey(runtime.deps.db, env.RFT_API_KEY);
const app = createApp(runtime.deps);

const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, async (info) => {
  const host = info.address.includes(":") ? `[${info.address}]` : info.address;
  const base = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${info.port}`;
  const services = await startServices(runtime, { apiBaseUrl: base, env });
  console.log(`RFT API listening on ${base}/v1  (data: ${runtime.dataDir}, objects: ${runtime.deps.store.kind})`);
  console.log(`API reference: ${base}/docs`);
  if (boot.secret) {
    console.log("\nCreated an admin API key. It is shown only this once; store it now:\n");
    console.log(`  ${boot.secret}\n`);
    console.log(`  export OPENAI_BASE_URL=${base}/v1 OPENAI_API_KEY=${boot.secret}\n`);
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      server.close();
      void services
        .stop()
        .then(() => runtime.close())
        .then(() => process.exit(0));
    });
  }
});
