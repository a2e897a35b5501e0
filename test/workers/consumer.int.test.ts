/** The consumer loop over the real table queue (SQLite file): ack, retry with backoff, poison, malformed bodies, wake-up. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/client.ts";
import { openNodeDb } from "../../db/node.ts";
import { queueMessages } from "../../db/schema/index.ts";
import { backoffMs, startConsumer } from "../../workers/consumer.ts";
import type { QueueMessage } from "../../workers/queue.ts";
import { createTableQueue, type TableQueue } from "../../workers/queue-table.ts";
import { waitFor } from "../runner/harness.ts";

let dir: string;
let db: Db;
let close: () => void;
let queue: TableQueue;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rft-consumer-"));
  ({ db, close } = await openNodeDb(join(dir, "c.db")));
  queue = createTableQueue(db);
});
afterAll(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = () => {};

describe("consumer", () => {
  it("hands each message to its kind's handler and acks it", async () => {
    const seen: QueueMessage[] = [];
    const consumer = startConsumer({
      queue,
      pollMs: 20,
      log: quiet,
      handlers: {
        validate: async (m) => void seen.push(m),
        dispatch: async (m) => void seen.push(m),
      },
    });
    await queue.send({ kind: "validate", jobId: "ftjob-1" });
    await queue.send({ kind: "dispatch", jobId: "ftjob-2" });
    await waitFor(async () => seen.length === 2, 5000, "two messages");
    await consumer.stop();
    expect(seen.map((m) => m.kind).sort()).toEqual(["dispatch", "validate"]);
    expect(await queue.depth()).toEqual({});
  });

  it("a send in this process wakes the consumer at once instead of after its poll interval", async () => {
    let at = 0;
    const consumer = startConsumer({
      queue,
      pollMs: 5_000,
      log: quiet,
      handlers: {
        dispatch: async () => {
          at = Date.now();
        },
      },
    });
    await new Promise((r) => setTimeout(r, 100)); // the consumer is now asleep in its 5 s poll
    const sent = Date.now();
    await queue.send({ kind: "dispatch", jobId: "ftjob-wake" });
    await waitFor(async () => at > 0, 3000, "handler");
    await consumer.stop();
    expect(at - sent).toBeLessThan(1000);
  });

  it("a failing handler gets the message back with growing delays, then it is poison: onPoison, dropped", async () => {
    const attempts: number[] = [];
    const poisoned: { message: QueueMessage; error: string; deliveries: number }[] = [];
    const consumer = startConsumer({
      queue,
      pollMs: 10,
      log: quiet,
      maxDeliveries: 4,
      backoffBaseMs: 20,
      handlers: {
        dispatch: async () => {
          attempts.push(Date.now());
          throw new Error("backend down");
        },
      },
      onPoison: async (message, error, deliveries) =>
        void poisoned.push({ message, error: (error as Error).message, deliveries }),
    });
    await queue.send({ kind: "dispatch", jobId: "ftjob-poison" });
    await waitFor(async () => poisoned.length === 1, 10_000, "poison");
    await consumer.stop();
    expect(attempts).toHaveLength(4);
    expect(poisoned[0]).toEqual({
      message: { kind: "dispatch", jobId: "ftjob-poison" },
      error: "backend down",
      deliveries: 4,
    });
    // Delays grow: 20, 40, 80 ms (±20 %).
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    expect(await queue.depth()).toEqual({});
  });

  it("a body that is not a QueueMessage is dropped, not retried forever", async () => {
    await db
      .insert(queueMessages)
      .values({ id: "msg_bad", topic: "dispatch", body: { kind: "dispatch" }, availableAt: 0 });
    await db.run(
      sql`INSERT INTO queue_messages (id, topic, body, available_at, deliveries, created_at) VALUES ('msg_junk', 'dispatch', 'not json', 0, 0, 0)`,
    );
    const lines: string[] = [];
    const consumer = startConsumer({
      queue,
      pollMs: 10,
      log: (l) => lines.push(l),
      handlers: { dispatch: async () => {} },
    });
    await waitFor(async () => Object.keys(await queue.depth()).length === 0, 5000, "drop");
    await consumer.stop();
    expect(lines.filter((l) => l.includes("dropping malformed message"))).toHaveLength(2);
  });

  it("never runs more than `concurrency` handlers at once", async () => {
    let running = 0;
    let peak = 0;
    let done = 0;
    const consumer = startConsumer({
      queue,
      pollMs: 10,
      concurrency: 3,
      log: quiet,
      handlers: {
        dispatch: async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 30));
          running--;
          done++;
        },
      },
    });
    for (let i = 0; i < 12; i++) await queue.send({ kind: "dispatch", jobId: `ftjob-c${i}` });
    await waitFor(async () => done === 12, 10_000, "12 handled");
    await consumer.stop();
    expect(peak).toBe(3);
  });

  it("backoff doubles from the base and stops at the cap", () => {
    const mid = (n: number) => [0, 1, 2].map(() => backoffMs(n, 1000, 60_000));
    for (const v of mid(1)) expect(v).toBeGreaterThanOrEqual(800);
    for (const v of mid(3)) expect(v).toBeGreaterThanOrEqual(3200);
    for (const v of mid(20)) expect(v).toBeLessThanOrEqual(72_000);
  });
});
