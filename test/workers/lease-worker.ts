/**
 * A separate process leasing from the same SQLite file (used by queue.int.test.ts): leases until the queue is
 * empty, acks each message, and prints one JSON line per lease: `{"id", "deliveries", "pid"}`.
 *   tsx test/workers/lease-worker.ts <db file> <max per lease>
 */
import { sql } from "drizzle-orm";
import { openNodeDb } from "../../db/node.ts";
import { createTableQueue } from "../../workers/queue-table.ts";

const [file, max] = process.argv.slice(2);
const { db, close } = await openNodeDb(file!);
// Fewer fsyncs (tests only): locking, which is what is under test, is unchanged.
await db.run(sql`PRAGMA synchronous = NORMAL`);
const queue = createTableQueue(db);
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
