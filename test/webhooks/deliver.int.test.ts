/**
 * Delivery to real HTTP receivers on 127.0.0.1. The clock is injected (`now`), so backoff is tested without
 * waiting; the timeout test waits for a real (short) timeout.
 */
import { eq, sql } from "drizzle-orm";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/client.ts";
import { openNodeDb } from "../../db/node.ts";
import { webhookDeliveries } from "../../db/schema/index.ts";
import { deliverDue, startWebhookDeliverer } from "../../workers/webhooks/deliver.ts";
import { newWebhookEventId, webhookOutboxStatement } from "../../workers/webhooks/outbox.ts";
import { deliveriesOf, insertEndpoint, insertJob, openTestDb, startReceiver } from "./fixture.ts";

let db: Db;
let file: string;
let close: () => void;
// A fresh database per test: leftovers of one test (pending retries) must not be due in the next.
beforeEach(async () => ({ db, file, close } = await openTestDb()));
afterEach(() => close());

let projectSeq = 0;
/** A project with one endpoint at `url` and one event queued for it at `createdAt` (unix seconds). */
async function queueEvent(url: string, createdAt = Math.floor(Date.now() / 1000)) {
  const projectId = `proj_deliver_${projectSeq++}`;
  const jobId = await insertJob(db, projectId, "succeeded");
  const endpoint = await insertEndpoint(db, projectId, url);
  const eventId = newWebhookEventId();
  await db.batch([
    webhookOutboxStatement(db, { jobId, type: "fine_tuning.job.succeeded", eventId, createdAt, guard: sql`1 = 1` }),
  ]);
  const [delivery] = await deliveriesOf(db, endpoint.id);
  return { endpoint, delivery: delivery!, jobId, eventId };
}

const reload = async (id: string) =>
  (await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)))[0]!;
const opts = { maxAttempts: 5, timeoutMs: 2_000 };

describe("deliverDue", () => {
  it("POSTs the stored body with Standard Webhooks headers the openai SDK verifies; 2xx → delivered", async () => {
    const receiver = await startReceiver(() => 204);
    try {
      const { endpoint, delivery, jobId, eventId } = await queueEvent(receiver.url);
      const result = await deliverDue({ db }, opts);
      expect(result).toMatchObject({ delivered: 1, retrying: 0, failed: 0 });

      expect(receiver.received).toHaveLength(1);
      const got = receiver.received[0]!;
      expect(got.body).toBe(delivery.payload);
      expect(got.headers["content-type"]).toBe("application/json");
      expect(got.headers["webhook-id"]).toBe(delivery.id);
      const event = await new OpenAI({ apiKey: "unused" }).webhooks.unwrap(
        got.body,
        got.headers as Record<string, string>,
        endpoint.secret,
      );
      expect(event).toMatchObject({
        id: eventId,
        object: "event",
        type: "fine_tuning.job.succeeded",
        data: { id: jobId },
      });

      const row = await reload(delivery.id);
      expect(row).toMatchObject({ status: "delivered", attempts: 1, lastStatusCode: 204, lastError: null });
      expect(row.deliveredAt).toBeGreaterThan(0);
      expect((await deliverDue({ db }, opts)).claimed).toBe(0); // nothing left to send
    } finally {
      await receiver.close();
    }
  });

  it("retries a receiver that fails twice with backoff (5 s, then 30 s, ±20%), then delivers", async () => {
    const receiver = await startReceiver((_req, i) => (i < 2 ? 503 : 200));
    try {
      const t0 = Date.parse("2030-01-01T00:00:00Z");
      const { delivery } = await queueEvent(receiver.url, t0 / 1000);
      const run = (at: number) => deliverDue({ db }, { ...opts, now: at });

      expect(await run(t0)).toMatchObject({ claimed: 1, retrying: 1 });
      let row = await reload(delivery.id);
      expect(row).toMatchObject({
        status: "pending",
        attempts: 1,
        lastStatusCode: 503,
        lastError: "HTTP 503: receiver says 503",
      });
      expect(row.nextAttemptAt - t0 / 1000).toBeGreaterThanOrEqual(4);
      expect(row.nextAttemptAt - t0 / 1000).toBeLessThanOrEqual(6);

      expect((await run(t0 + 3_000)).claimed).toBe(0); // not due yet
      const t1 = row.nextAttemptAt * 1000;
      expect(await run(t1)).toMatchObject({ claimed: 1, retrying: 1 });
      row = await reload(delivery.id);
      expect(row.attempts).toBe(2);
      expect(row.nextAttemptAt - t1 / 1000).toBeGreaterThanOrEqual(24);
      expect(row.nextAttemptAt - t1 / 1000).toBeLessThanOrEqual(36);

      expect(await run(row.nextAttemptAt * 1000)).toMatchObject({ claimed: 1, delivered: 1 });
      row = await reload(delivery.id);
      expect(row).toMatchObject({ status: "delivered", attempts: 3, lastStatusCode: 200, lastError: null });
      // Every attempt is the same message: same webhook-id, same body, a fresh timestamp and signature.
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([delivery.id]));
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
      expect(receiver.received.map((r) => Number(r.headers["webhook-timestamp"]) - t0 / 1000)).toEqual([
        0,
        t1 / 1000 - t0 / 1000,
        expect.any(Number),
      ]);
    } finally {
      await receiver.close();
    }
  });

  it("marks a delivery failed after maxAttempts, keeping the last status code and error", async () => {
    const receiver = await startReceiver(() => 500);
    try {
      const t0 = Date.parse("2031-01-01T00:00:00Z");
      const { delivery } = await queueEvent(receiver.url, t0 / 1000);
      expect(await deliverDue({ db }, { ...opts, maxAttempts: 2, now: t0 })).toMatchObject({ retrying: 1 });
      const next = (await reload(delivery.id)).nextAttemptAt * 1000;
      expect(await deliverDue({ db }, { ...opts, maxAttempts: 2, now: next })).toMatchObject({ failed: 1 });
      expect(await reload(delivery.id)).toMatchObject({ status: "failed", attempts: 2, lastStatusCode: 500 });
      expect((await deliverDue({ db }, { ...opts, maxAttempts: 2, now: next + 86_400_000 })).claimed).toBe(0);
    } finally {
      await receiver.close();
    }
  });

  it("a receiver that never answers hits the timeout and is retried later", async () => {
    const receiver = await startReceiver(() => null);
    try {
      const { delivery } = await queueEvent(receiver.url);
      const started = Date.now();
      expect(await deliverDue({ db }, { ...opts, timeoutMs: 300 })).toMatchObject({ retrying: 1 });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(receiver.received).toHaveLength(1);
      expect(await reload(delivery.id)).toMatchObject({
        status: "pending",
        attempts: 1,
        lastStatusCode: null,
        lastError: "timed out after 300 ms",
      });
    } finally {
      await receiver.close();
    }
  });

  it("records a refused connection as a failed attempt", async () => {
    const receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close();
    const { delivery } = await queueEvent(url);
    expect(await deliverDue({ db }, opts)).toMatchObject({ retrying: 1 });
    expect((await reload(delivery.id)).lastError).toMatch(/ECONNREFUSED/);
  });

  it("never sends one delivery twice at once: concurrent passes, on separate connections, claim disjoint rows", async () => {
    const receiver = await startReceiver(() => 200);
    // Two more connections to the same file, as two processes would have.
    const others = await Promise.all([openNodeDb(file), openNodeDb(file)]);
    try {
      const queued = await Promise.all(Array.from({ length: 20 }, () => queueEvent(receiver.url)));
      const senders = [db, ...others.map((o) => o.db)];
      const results = await Promise.all(
        senders.flatMap((sender) => [1, 2].map(() => deliverDue({ db: sender }, { ...opts, batchSize: 4 }))),
      );
      const rest = await deliverDue({ db }, opts); // whatever the small batches left
      expect(results.reduce((n, r) => n + r.delivered, 0) + rest.delivered).toBe(20);
      expect(receiver.received).toHaveLength(20);
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(20);
      for (const { delivery } of queued) expect((await reload(delivery.id)).status).toBe("delivered");
    } finally {
      for (const o of others) o.close();
      await receiver.close();
    }
  });

  it("a sender that died mid-send leaves a lease that expires: the delivery is due again after it", async () => {
    const receiver = await startReceiver(() => 200);
    try {
      const t0 = Date.parse("2032-01-01T00:00:00Z");
      const { delivery } = await queueEvent(receiver.url, t0 / 1000);
      // A pass whose request never settles and ignores its abort signal: as good as a crashed process.
      const dead = () => new Promise<Response>(() => {});
      void deliverDue({ db }, { ...opts, now: t0, fetch: dead });
      await new Promise((r) => setTimeout(r, 100)); // let its claim commit
      expect((await deliverDue({ db }, { ...opts, now: t0 + 10_000 })).claimed).toBe(0); // still leased
      // The lease is the timeout (2 s) plus a 30 s margin.
      expect(await deliverDue({ db }, { ...opts, now: t0 + 33_000 })).toMatchObject({ claimed: 1, delivered: 1 });
      expect(receiver.received).toHaveLength(1);
      expect(await reload(delivery.id)).toMatchObject({ status: "delivered", attempts: 1 });
    } finally {
      await receiver.close();
    }
  });

  it("gives up deliveries whose endpoint was disabled, without sending", async () => {
    const receiver = await startReceiver(() => 200);
    try {
      const { endpoint, delivery } = await queueEvent(receiver.url);
      await db.run(sql`UPDATE webhook_endpoints SET disabled_at = 1 WHERE id = ${endpoint.id}`);
      expect(await deliverDue({ db }, opts)).toMatchObject({ failed: 1 });
      expect(receiver.received).toHaveLength(0);
      expect(await reload(delivery.id)).toMatchObject({ status: "failed", lastError: "endpoint deleted" });
    } finally {
      await receiver.close();
    }
  });
});

describe("startWebhookDeliverer", () => {
  it("sends what becomes due while it runs, and stop() waits for the pass in flight", async () => {
    const receiver = await startReceiver(() => 200);
    const deliverer = startWebhookDeliverer({ db }, { intervalMs: 20, timeoutMs: 2_000 });
    try {
      const { delivery } = await queueEvent(receiver.url);
      for (let i = 0; i < 100 && receiver.received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await deliverer.stop();
      expect(receiver.received).toHaveLength(1);
      expect((await reload(delivery.id)).status).toBe("delivered");
    } finally {
      await deliverer.stop();
      await receiver.close();
    }
  });
});
