/**
 * Starts the real API on 127.0.0.1 with an ephemeral port, on a fresh temp data folder (or S3 when `env` says
 * so), with a bootstrap admin key and helpers to make other tenants. Tests talk to it over HTTP only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import OpenAI from "openai";
import { createApp } from "../../api/app.ts";
import { parseEnv } from "../../api/config.ts";
import { buildNodeDeps, type NodeRuntime } from "../../api/node-deps.ts";
import { type Services, type ServicesOptions, startServices } from "../../api/node-services.ts";
import { createProjectWithKey, ensureBootstrapKey } from "../../db/queries/auth.ts";

export interface TestServer {
  /** Base URL including `/v1`, as the `openai` SDK wants it. */
  baseURL: string;
  origin: string;
  apiKey: string;
  dataDir: string;
  runtime: NodeRuntime;
  /** The queue consumer, reaper and webhook deliverer, when started with `services`. */
  services: Services | null;
  /** An SDK client for the bootstrap project (no retries, so errors surface at once). */
  client: OpenAI;
  /** A second project (tenant) with its own key and client. */
  newTenant: (name?: string) => Promise<{ apiKey: string; client: OpenAI; projectId: string }>;
  stop: () => Promise<void>;
}

export interface StartOptions {
  /** Start the background services (workers: queue consumer, dispatcher, reaper; webhooks) too. */
  services?: Partial<Omit<ServicesOptions, "apiBaseUrl" | "env">> | boolean;
}

export async function startServer(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestServer> {
  const dataDir = env.RFT_DATA_DIR ?? mkdtempSync(join(tmpdir(), "rft-test-"));
  const apiKey = "sk-rft-test-bootstrap-key-0123456789";
  const parsed = parseEnv({ RFT_DATA_DIR: dataDir, RFT_API_KEY: apiKey, PORT: "0", ...env });
  const runtime = await buildNodeDeps(parsed);
  await ensureBootstrapKey(runtime.deps.db, apiKey);
  const app = createApp(runtime.deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolveServer) => {
    const s = serve({ fetch: app.fetch, port: parsed.PORT, hostname: "127.0.0.1" }, () => resolveServer(s));
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const baseURL = `${origin}/v1`;
  const services = options.services
    ? await startServices(runtime, {
        apiBaseUrl: origin,
        env: parsed,
        processEnv: { ...process.env, ...env },
        ...(typeof options.services === "object" ? options.services : {}),
      })
    : null;
  const clientFor = (key: string) => new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 120_000 });
  return {
    baseURL,
    origin,
    apiKey,
    dataDir,
    runtime,
    services,
    client: clientFor(apiKey),
    newTenant: async (name = "other") => {
      const { secret, projectId } = await createProjectWithKey(runtime.deps.db, name);
      return { apiKey: secret, client: clientFor(secret), projectId };
    },
    stop: async () => {
      await services?.stop();
      await new Promise<void>((r) => {
        server.close(() => r());
        (server as import("node:http").Server).closeAllConnections?.();
      });
      await runtime.close();
      if (!env.RFT_DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
