/** The outbox statement commits deliveries with the status change, and only when the caller's guard holds. */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../api/jobs/lifecycle.ts";
import type { Db } from "../../db/client.ts";
import { jobs } from "../../db/schema/index.ts";
import { newWebhookEventId, webhookOutboxStatement } from "../../workers/webhooks/outbox.ts";
import { deliveriesOf, insertEndpoint, insertJob, openTestDb } from "./fixture.ts";

let db: Db;
let close: () => void;
beforeAll(async () => ({ db, close } = await openTestDb()));
afterAll(() => close());

/** What the lead's `transition()` does: a guarded status update and the outbox insert in one batch. */
async function finish(jobId: string, to: "succeeded" | "cancelled", from: "running" | "queued") {
  const stamp = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  const eventId = newWebhookEventId();
  const createdAt = Math.floor(Date.now() / 1000);
  await db.batch([
    db
      .update(jobs)
      .set({ status: to, updatedAt: stamp })
      .where(and(eq(jobs.id, jobId), eq(jobs.status, from))),
    webhookOutboxStatement(db, {
      jobId,
      type: `fine_tuning.job.${to}`,
      eventId,
      createdAt,
      guard: sql`EXISTS (SELECT 1 FROM ${jobs} WHERE ${jobs.id} = ${jobId} AND ${jobs.updatedAt} = ${stamp})`,
    }),
  ]);
  return { eventId, createdAt };
}

describe("webhookOutboxStatement", () => {
  it("inserts one pending delivery per active endpoint of the job's project, sharing one event id", async () => {
    const jobId = await insertJob(db, "proj_a");
    const [one, two] = [
      await insertEndpoint(db, "proj_a", "http://a/1"),
      await insertEndpoint(db, "proj_a", "http://a/2"),
    ];
    const disabled = await insertEndpoint(db, "proj_a", "http://a/off", { disabled: true });
    const otherProject = await insertEndpoint(db, "proj_b", "http://b/1");

    const { eventId, createdAt } = await finish(jobId, "succeeded", "running");

    const rows = [...(await deliveriesOf(db, one.id)), ...(await deliveriesOf(db, two.id))];
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.id)).size).toBe(2);
    for (const row of rows) {
      expect(row.id).toMatch(/^wh_/);
      expect(row).toMatchObject({ eventId, eventType: "fine_tuning.job.succeeded", status: "pending", attempts: 0 });
      expect(row.nextAttemptAt).toBe(createdAt);
      expect(row.payload).toBe(
        `{"id":"${eventId}","object":"event","type":"fine_tuning.job.succeeded","created_at":${createdAt},"data":{"id":"${jobId}"}}`,
      );
    }
    expect(await deliveriesOf(db, disabled.id)).toEqual([]);
    expect(await deliveriesOf(db, otherProject.id)).toEqual([]);
  });

  it("inserts nothing when the guard fails (the transition did not take effect)", async () => {
    const jobId = await insertJob(db, "proj_c", "succeeded");
    const endpoint = await insertEndpoint(db, "proj_c", "http://c/1");

    await finish(jobId, "cancelled", "running"); // job is not running: the update matches nothing
    expect(await deliveriesOf(db, endpoint.id)).toEqual([]);
    const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
    expect(job?.status).toBe("succeeded");
  });

  it("rolls back with the batch: a failing statement later in the batch leaves no delivery behind", async () => {
    const jobId = await insertJob(db, "proj_d");
    const endpoint = await insertEndpoint(db, "proj_d", "http://d/1");
    const statement = webhookOutboxStatement(db, {
      jobId,
      type: "fine_tuning.job.failed",
      eventId: newWebhookEventId(),
      createdAt: 1,
      guard: sql`1 = 1`,
    });
    await expect(db.batch([statement, db.run(sql`INSERT INTO no_such_table VALUES (1)`)])).rejects.toThrow();
    expect(await deliveriesOf(db, endpoint.id)).toEqual([]);
  });

  it("is wired into the job lifecycle: terminal transitions enqueue, others and refused ones do not", async () => {
    const endpoint = await insertEndpoint(db, "proj_e", "http://e/1");
    const running = await insertJob(db, "proj_e", "running");
    const paused = await insertJob(db, "proj_e", "running");

    expect((await transition(db, paused, "paused", { message: "paused" })).ok).toBe(true);
    expect(await deliveriesOf(db, endpoint.id)).toEqual([]);

    expect((await transition(db, running, "failed", { message: "boom" })).ok).toBe(true);
    expect((await transition(db, running, "cancelled", { message: "too late" })).ok).toBe(false);
    const rows = await deliveriesOf(db, endpoint.id);
    expect(rows.map((r) => [r.eventType, JSON.parse(r.payload).data.id])).toEqual([
      ["fine_tuning.job.failed", running],
    ]);
  });
});
