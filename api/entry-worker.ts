/**
 * The Cloudflare Workers entry: the same `createApp` over D1 (database), R2 (objects) and Cloudflare Queues.
 * The queue consumer validates jobs and dispatches them to Kubernetes GPU runners (the only backend a Worker can
 * drive: it cannot spawn processes). Python graders need a sandbox a Worker does not have, so `/graders/run`
 * answers them with a typed error here; model graders work through the configured endpoint.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle } from "drizzle-orm/d1";
import type { Db } from "../db/client.ts";
import { ensureBootstrapKey } from "../db/queries/auth.ts";
import * as schema from "../db/schema/index.ts";
import { installWRatioModule } from "../graders/metrics/fuzzy-kernel.ts";
// fuzzy_match's WebAssembly pipeline: workerd cannot compile it from bytes, so wrangler uploads it compiled.
import fuzzyWRatio from "../graders/metrics/fuzzy-wratio.wasm";
import { openAICompatibleChat, openAICompatibleEmbeddings } from "../graders/openai-compatible.ts";
import { createR2Store, type R2BucketLike } from "../storage/r2.ts";
import { createKubernetesBackend } from "../workers/backends/kubernetes.ts";
import { createDispatcher } from "../workers/dispatcher.ts";
import { QueueMessage } from "../workers/queue.ts";
import { createCloudflareQueue, type QueueProducerLike } from "../workers/queue-cloudflare.ts";
import { createReaper } from "../workers/reaper.ts";
import { deliverDue } from "../workers/webhooks/deliver.ts";
import { createApp } from "./app.ts";
import { limitsFrom, parseEnv } from "./config.ts";
import type { AppDeps } from "./deps.ts";
import { transition } from "./jobs/lifecycle.ts";
import { advanceValidation } from "./jobs/service.ts";

installWRatioModule(fuzzyWRatio);

interface Bindings {
  DB: unknown;
  BUCKET: R2BucketLike;
  JOBS: QueueProducerLike;
  [variable: string]: unknown;
}
interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}
interface MessageLike {
  body: unknown;
  /** Deliveries so far, this one included. */
  attempts?: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

const strings = (env: Bindings) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string")) as Record<string, string>;

/** Each request's (or queue batch's) context, so background work is kept alive by the request that started it. */
const requestContext = new AsyncLocalStorage<ExecutionContextLike>();

/** Built once per isolate: the bindings do not change between requests. */
let cached: { env: Bindings; deps: AppDeps; app: ReturnType<typeof createApp>; ready: Promise<unknown> } | null = null;

function build(env: Bindings, ctx: ExecutionContextLike) {
  if (cached?.env === env) return cached;
  const vars = parseEnv(strings(env));
  const endpoint = vars.RFT_GRADER_BASE_URL
    ? { baseURL: vars.RFT_GRADER_BASE_URL, ...(vars.RFT_GRADER_API_KEY ? { apiKey: vars.RFT_GRADER_API_KEY } : {}) }
    : null;
  const deps: AppDeps = {
    db: drizzle(env.DB as never, { schema }) as unknown as Db,
    store: createR2Store(env.BUCKET),
    limits: limitsFrom(vars),
    queue: createCloudflareQueue(env.JOBS),
    graders: endpoint
      ? {
          chat: openAICompatibleChat(endpoint),
          embeddings: openAICompatibleEmbeddings(endpoint),
          ...(vars.RFT_EMBEDDING_MODEL ? { embeddingModel: vars.RFT_EMBEDDING_MODEL } : {}),
        }
      : {},
    background: (task) => (requestContext.getStore() ?? ctx).waitUntil(task),
  };
  // RFT_API_KEY (a secret) is the bootstrap admin key, made to exist once per isolate as on Node.
  const ready = vars.RFT_API_KEY ? ensureBootstrapKey(deps.db, vars.RFT_API_KEY) : Promise.resolve();
  cached = { env, deps, app: createApp(deps), ready };
  return cached;
}

export default {
  async fetch(request: Request, env: Bindings, ctx: ExecutionContextLike) {
    const { app, ready } = build(env, ctx);
    await ready;
    return requestContext.run(ctx, () => app.fetch(request, env, ctx as never));
  },

  async queue(batch: { messages: MessageLike[] }, env: Bindings, ctx: ExecutionContextLike) {
    const { deps } = build(env, ctx);
    const vars = strings(env);
    await requestContext.run(ctx, () => consume(batch.messages, deps, vars));
  },

  /** Cron trigger: webhook deliveries that are due, and the reaper (lost runs requeued, stuck jobs nudged). */
  async scheduled(_event: unknown, env: Bindings, ctx: ExecutionContextLike) {
    const { deps } = build(env, ctx);
    const backend = kubernetesFrom(strings(env));
    const reaper = createReaper({ db: deps.db, queue: deps.queue, backends: backend ? [backend] : [] });
    ctx.waitUntil(Promise.allSettled([deliverDue(deps, { maxAttempts: 8, timeoutMs: 10_000 }), reaper.sweep()]));
  },
};

/** Kubernetes is the one runner backend a Worker can drive (over fetch); null when it is not configured. */
function kubernetesFrom(vars: Record<string, string>) {
  if (!vars.RFT_K8S_IMAGE || !vars.RFT_RUNNER_API_URL) return null;
  return createKubernetesBackend({
    image: vars.RFT_K8S_IMAGE,
    ...(vars.RFT_K8S_API_SERVER ? { apiServer: vars.RFT_K8S_API_SERVER } : {}),
    ...(vars.RFT_K8S_TOKEN ? { token: vars.RFT_K8S_TOKEN } : {}),
  });
}

/** Matches wrangler.toml's `max_retries`: the last delivery fails the job instead of leaving it stuck. */
const MAX_DELIVERIES = 10;

async function consume(messages: MessageLike[], deps: AppDeps, vars: Record<string, string>) {
  for (const message of messages) {
    const parsed = QueueMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error("dropping a malformed queue message", parsed.error.message);
      message.ack();
      continue;
    }
    const body = parsed.data;
    try {
      if (body.kind === "validate") await advanceValidation(deps, body.jobId);
      else if (body.kind === "dispatch") {
        const backend = kubernetesFrom(vars);
        if (!backend) {
          throw new Error(
            "no runner backend: set RFT_K8S_IMAGE, RFT_K8S_API_SERVER, RFT_K8S_TOKEN and RFT_RUNNER_API_URL",
          );
        }
        await createDispatcher({ db: deps.db, backend, apiBaseUrl: vars.RFT_RUNNER_API_URL! }).dispatch(body.jobId);
      }
      message.ack();
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      console.error(`queue message ${body.kind} failed:`, text);
      if ((message.attempts ?? 1) < MAX_DELIVERIES || body.kind === "webhook") {
        message.retry({ delaySeconds: 30 });
        continue;
      }
      const what = body.kind === "validate" ? "validate the job's files" : "launch a runner";
      const reason = `Could not ${what} after ${MAX_DELIVERIES} attempts: ${text}`;
      await transition(
        deps.db,
        body.jobId,
        "failed",
        { level: "error", message: reason },
        {
          from: body.kind === "validate" ? ["validating_files"] : ["queued"],
          patch: {
            error: {
              code: `${body.kind === "validate" ? "validation" : "dispatch"}_error`,
              message: reason,
              param: null,
            },
          },
        },
      ).catch((e) => console.error("could not fail the job:", e));
      message.ack();
    }
  }
}
