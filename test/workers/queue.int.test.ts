/**
 * The table queue on a real SQLite file: leases are exclusive (within one process, across connections and across
 * processes), a lease that runs out is delivered again, nack delays, ack removes.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/client.ts";
import { openNodeDb } from "../../db/node.ts";
import { createTableQueue, type TableQueue } from "../../workers/queue-table.ts";

const run = promisify(execFile);
let dir: string;
let file: string;
let queue: TableQueue;
let closers: (() => void)[] = [];
let now = 1_000_000;
const clock = () => now;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rft-queue-"));
  file = join(dir, "q.db");
  const { db, close } = await openNodeDb(file);
  closers.push(close);
  await fast(db);
  queue = createTableQueue(db, clock);
});

/** Fewer fsyncs, so hundreds of messages take seconds, not minutes; locking (what is under test) is unchanged. */
const fast = (db: Db) => db.run(sql`PRAGMA synchronous = NORMAL`);
afterAll(() => {
  for (const c of closers) c();
  closers = [];
  rmSync(dir, { recursive: true, force: true });
});

async function drain(q: TableQueue) {
  for (;;) {
    const got = await q.lease(undefined, { max: 100, leaseMs: 1 });
    if (!got.length) return;
    for (const m of got) await q.ack(m.id);
  }
}

describe("table queue", () => {
  it("send → lease → ack; the topic is the message kind; malformed messages are refused at send", async () => {
    await queue.send({ kind: "validate", jobId: "ftjob-a" });
    await queue.send({ kind: "dispatch", jobId: "ftjob-b" });
    expect(await queue.depth()).toEqual({ validate: 1, dispatch: 1 });
    const got = await queue.lease("dispatch", { max: 10, leaseMs: 1000 });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      topic: "dispatch",
      body: { kind: "dispatch", jobId: "ftjob-b" },
      deliveries: 1,
      leaseUntil: now + 1000,
    });
    await queue.ack(got[0]!.id);
    expect(await queue.depth()).toEqual({ validate: 1 });
    await expect(queue.send({ kind: "dispatch" } as never)).rejects.toThrow();
    await drain(queue);
  });

  it("a held lease is never handed out twice; after it runs out the message comes back with deliveries + 1", async () => {
    await queue.send({ kind: "dispatch", jobId: "ftjob-c" });
    const first = await queue.lease("dispatch", { leaseMs: 500 });
    expect(first).toHaveLength(1);
    now += 499;
    expect(await queue.lease("dispatch", { max: 10, leaseMs: 500 })).toHaveLength(0);
    now += 2;
    const again = await queue.lease("dispatch", { max: 10, leaseMs: 500 });
    expect(again.map((m) => [m.id, m.deliveries])).toEqual([[first[0]!.id, 2]]);
    // The first holder lost its lease: it cannot extend it any more; the new holder can.
    expect(await queue.extend(first[0]!.id, first[0]!.leaseUntil, 500)).toBeNull();
    expect(await queue.extend(again[0]!.id, again[0]!.leaseUntil, 500)).toBe(now + 500);
    await queue.ack(again[0]!.id);
  });

  it("nack makes the message available again only after its delay; delayed sends wait too", async () => {
    await queue.send({ kind: "dispatch", jobId: "ftjob-d" });
    const [m] = await queue.lease("dispatch", { leaseMs: 60_000 });
    await queue.nack(m!.id, 1000);
    expect(await queue.lease("dispatch")).toHaveLength(0);
    now += 1000;
    expect((await queue.lease("dispatch"))[0]?.deliveries).toBe(2);
    await drain(queue);
    await queue.send({ kind: "validate", jobId: "ftjob-e" }, { delayMs: 300 });
    expect(await queue.lease()).toHaveLength(0);
    now += 300;
    expect(await queue.lease()).toHaveLength(1);
    await drain(queue);
  });

  it("many concurrent leasers on separate connections: every message exactly once", async () => {
    const queues: TableQueue[] = [];
    for (let i = 0; i < 4; i++) {
      const { db, close } = await openNodeDb(file);
      closers.push(close);
      await fast(db);
      queues.push(createTableQueue(db, clock));
    }
    const n = 300;
    for (let i = 0; i < n; i++) await queue.send({ kind: "dispatch", jobId: `ftjob-${i}` });
    const seen: string[] = [];
    await Promise.all(
      queues.flatMap((q) =>
        [0, 1, 2].map(async () => {
          for (;;) {
            const got = await q.lease("dispatch", { max: 7, leaseMs: 60_000 });
            if (!got.length) return;
            for (const m of got) seen.push(m.id);
          }
        }),
      ),
    );
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    now += 60_001;
    await drain(queue);
  });

  it("two processes leasing from one file never get the same message", async () => {
    const n = 400;
    for (let i = 0; i < n; i++) await queue.send({ kind: "dispatch", jobId: `ftjob-p${i}` });
    const tsx = join(process.cwd(), "node_modules/.bin/tsx");
    const worker = join(process.cwd(), "test/workers/lease-worker.ts");
    const barrier = mkdtempSync(join(tmpdir(), "rft-lease-barrier-"));
    const outs = await Promise.all(
      [1, 4].map((max) => run(tsx, [worker, file, String(max), barrier, "2"], { maxBuffer: 10 * 1024 * 1024 })),
    );
    rmSync(barrier, { recursive: true, force: true });
    const lines = outs.flatMap((o) =>
      o.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; deliveries: number; pid: number }),
    );
    expect(lines).toHaveLength(n);
    expect(new Set(lines.map((l) => l.id)).size).toBe(n);
    expect(lines.every((l) => l.deliveries === 1)).toBe(true);
    // Each process did some of the work (they really ran side by side).
    expect(new Set(lines.map((l) => l.pid)).size).toBeGreaterThan(1);
    expect(await queue.depth()).toEqual({});
  }, 60_000);
});
