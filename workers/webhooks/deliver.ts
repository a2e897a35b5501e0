import { and, asc, eq, inArray, lte } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { webhookDeliveries, webhookEndpoints } from "../../db/schema/index.ts";
import { DEFAULT_MAX_ATTEMPTS, retryDelayMs } from "./retry.ts";
import { signWebhook } from "./signature.ts";

type Delivery = typeof webhookDeliveries.$inferSelect;
type Endpoint = Pick<typeof webhookEndpoints.$inferSelect, "id" | "url" | "secret" | "disabledAt">;

export interface DeliverOptions {
  /** The clock, unix ms: what is due, the `webhook-timestamp` header and the next attempt all read it. */
  now?: number;
  fetch?: typeof fetch;
  /** After this many failed attempts a delivery is `failed` for good. */
  maxAttempts: number;
  /** Per request; a receiver that has not answered (headers) by then counts as a failed attempt. */
  timeoutMs: number;
  /** Deliveries claimed per call (sent in parallel). */
  batchSize?: number;
  /** Jitter source, injectable for tests. */
  random?: () => number;
}

export interface DeliverResult {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
}

type Outcome = { ok: boolean; statusCode: number | null; error: string | null };

/** A claim outlives the request by this much, so a slow write-back is not mistaken for a crashed sender. */
const LEASE_MARGIN_S = 30;
const ERROR_SNIPPET_BYTES = 500;

/**
 * Sends every due pending delivery once. Each is first claimed by one guarded UPDATE that pushes its
 * `next_attempt_at` past the request's timeout (the lease): a concurrent caller no longer sees it as due, and if
 * this process dies mid-send the delivery becomes due again when the lease runs out (at-least-once, as
 * receivers expect; they dedupe on `webhook-id`). 2xx → `delivered`; anything else, a timeout or a network
 * error → `attempts + 1` and a retry per `RETRY_SCHEDULE_S`, or `failed` once `maxAttempts` is reached.
 */
export async function deliverDue(deps: { db: Db }, options: DeliverOptions): Promise<DeliverResult> {
  const { db } = deps;
  const now = options.now ?? Date.now();
  const nowS = Math.floor(now / 1000);
  const leaseUntil = nowS + Math.ceil(options.timeoutMs / 1000) + LEASE_MARGIN_S;
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, nowS)))
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(options.batchSize ?? 50);
  // One statement: SQLite (and D1) run it atomically, so two callers never claim the same row.
  const claimed = await db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: leaseUntil })
    .where(and(inArray(webhookDeliveries.id, due), eq(webhookDeliveries.status, "pending")))
    .returning();
  const result: DeliverResult = { claimed: claimed.length, delivered: 0, retrying: 0, failed: 0 };
  if (!claimed.length) return result;

  const endpointIds = [...new Set(claimed.map((d) => d.endpointId))];
  const endpoints = await db
    .select({
      id: webhookEndpoints.id,
      url: webhookEndpoints.url,
      secret: webhookEndpoints.secret,
      disabledAt: webhookEndpoints.disabledAt,
    })
    .from(webhookEndpoints)
    .where(inArray(webhookEndpoints.id, endpointIds));
  const byId = new Map(endpoints.map((e) => [e.id, e]));

  await Promise.all(
    claimed.map(async (delivery) => {
      const endpoint = byId.get(delivery.endpointId);
      const outcome: Outcome | "gone" =
        !endpoint || endpoint.disabledAt !== null ? "gone" : await send(delivery, endpoint, now, options);
      const state = await record(db, delivery, leaseUntil, outcome, now, options);
      result[state] += 1;
    }),
  );
  return result;
}

/** One POST of the stored body, signed; never throws. Redirects are not followed (they count as failures). */
async function send(delivery: Delivery, endpoint: Endpoint, now: number, options: DeliverOptions): Promise<Outcome> {
  const doFetch = options.fetch ?? fetch;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const response = await doFetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "rft-platform-webhooks/1",
        ...signWebhook(endpoint.secret, delivery.id, now, delivery.payload),
      },
      body: delivery.payload,
      redirect: "manual",
      signal: controller.signal,
    });
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => {});
      return { ok: true, statusCode: response.status, error: null };
    }
    const snippet = await readSnippet(response).catch(() => "");
    return { ok: false, statusCode: response.status, error: `HTTP ${response.status}${snippet ? `: ${snippet}` : ""}` };
  } catch (err) {
    if (controller.signal.aborted)
      return { ok: false, statusCode: null, error: `timed out after ${options.timeoutMs} ms` };
    return { ok: false, statusCode: null, error: describeFetchError(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the attempt's outcome, only if our lease still holds (a delete or a newer claim wins). */
async function record(
  db: Db,
  delivery: Delivery,
  leaseUntil: number,
  outcome: Outcome | "gone",
  now: number,
  options: DeliverOptions,
): Promise<keyof Omit<DeliverResult, "claimed">> {
  const nowS = Math.floor(now / 1000);
  const attempts = delivery.attempts + 1;
  let state: "delivered" | "retrying" | "failed";
  let patch: Partial<typeof webhookDeliveries.$inferInsert>;
  if (outcome === "gone") {
    state = "failed";
    patch = { status: "failed", lastError: "endpoint deleted" };
  } else if (outcome.ok) {
    state = "delivered";
    patch = { status: "delivered", attempts, lastStatusCode: outcome.statusCode, lastError: null, deliveredAt: nowS };
  } else {
    state = attempts >= options.maxAttempts ? "failed" : "retrying";
    const nextAttemptAt = Math.floor((now + retryDelayMs(attempts, options.random)) / 1000);
    patch = {
      status: state === "failed" ? "failed" : "pending",
      attempts,
      lastStatusCode: outcome.statusCode,
      lastError: outcome.error,
      ...(state === "retrying" ? { nextAttemptAt } : {}),
    };
  }
  await db
    .update(webhookDeliveries)
    .set(patch)
    .where(
      and(
        eq(webhookDeliveries.id, delivery.id),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.nextAttemptAt, leaseUntil),
      ),
    );
  return state;
}

/** The first bytes of an error response, for `last_error`; never reads a large body whole. */
async function readSnippet(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < ERROR_SNIPPET_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, ERROR_SNIPPET_BYTES)).trim();
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const message = err instanceof Error ? err.message : String(err);
  if (cause?.code) return `${message}: ${cause.code}`;
  if (cause?.message) return `${message}: ${cause.message}`;
  return message;
}

export interface WebhookDelivererOptions extends Partial<Omit<DeliverOptions, "now">> {
  intervalMs: number;
  /** Unix ms; injectable for tests. */
  clock?: () => number;
}

/**
 * The Node entry's background sender: `deliverDue` every `intervalMs` (at once again while batches come back
 * full). `stop()` waits for the pass in flight. On Workers, call `deliverDue` from a cron trigger instead.
 */
export function startWebhookDeliverer(
  deps: { db: Db },
  options: WebhookDelivererOptions,
): { stop: () => Promise<void> } {
  const batchSize = options.batchSize ?? 50;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const pass = async () => {
    try {
      let result: DeliverResult;
      do {
        result = await deliverDue(deps, {
          ...options,
          now: (options.clock ?? Date.now)(),
          maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
          timeoutMs: options.timeoutMs ?? 10_000,
          batchSize,
        });
      } while (!stopped && result.claimed >= batchSize);
    } catch (err) {
      console.error("webhook delivery pass failed:", err);
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => {
      inFlight = pass();
    }, options.intervalMs);
    timer.unref?.();
  };
  inFlight = pass();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
