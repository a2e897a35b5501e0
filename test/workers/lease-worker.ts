/**
 * A separate process leasing from the same SQLite file (used by queue.int.test.ts): leases until the queue is
 * empty, acks each message, and prints one JSON line per lease: `{"id", "deliveries", "pid"}`.
 *   tsx test/workers/lease-worker.ts <db file> <max per lease> [<barrier folder> <processes>]
 * With a barrier, it starts leasing only once that many workers have checked in there, so that a slow start (tsx
 * on a loaded machine) cannot let one worker drain the queue before the other exists.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openNodeDb } from "../../db/node.ts";
import { createTableQueue } from "../../workers/queue-table.ts";

const [file, max, barrier, processes] = process.argv.slice(2);
const { db, close } = await openNodeDb(file!);
// Fewer fsyncs (tests only): locking, which is what is under test, is unchanged.
await db.run(sql`PRAGMA synchronous = NORMAL`);
const queue = createTableQueue(db);
if (barrier) {
  writeFileSync(join(barrier, String(process.pid)), "");
  while (readdirSync(barrier).length < Number(processes)) await new Promise((r) => setTimeout(r, 5));
}
let empty = 0;
while (empty < 20) {
  const got = await queue.lease("dispatch", { max: Number(max ?? 1), leaseMs: 60_000 });
  if (!got.length) {
    empty++;
    await new Promise((r) => setTimeout(r, 10));
    continue;
  }
  empty = 0;
  for (const m of got) {
    process.stdout.write(`${JSON.stringify({ id: m.id, deliveries: m.deliveries, pid: process.pid })}\n`);
    await queue.ack(m.id);
  }
}
close();
