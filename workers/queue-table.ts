import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { queueMessages } from "../db/schema/index.ts";
import { type Queue, QueueMessage } from "./queue.ts";

/**
 * The Node adapter of the queue port: a table with leases (`queue_messages`, times in milliseconds).
 *
 * - `send` inserts a row, available at `now + delayMs`; the topic is the message's `kind`.
 * - `lease` claims up to `max` available rows with ONE guarded `UPDATE … RETURNING`: SQLite runs a statement under
 *   its write lock, and the outer `WHERE` re-checks that the row is unleased, so two consumers (even in two
 *   processes on the same file) never hold the same message at once.
 * - `ack` deletes it; `nack` makes it available again after a delay; a lease that runs out (a consumer died
 *   mid-message) makes it available again by itself: at-least-once delivery, so handlers are idempotent.
 */
export interface LeasedMessage {
  id: string;
  topic: string;
  /** The raw body; the consumer checks it with `QueueMessage`. */
  body: unknown;
  /** How many times this message has been leased, this lease included. */
  deliveries: number;
  /** When this lease runs out (ms). */
  leaseUntil: number;
}

export interface TableQueue extends Queue {
  lease(topic?: string | readonly string[], options?: { max?: number; leaseMs?: number }): Promise<LeasedMessage[]>;
  ack(id: string): Promise<void>;
  /** Gives the message back, available again after `delayMs`. */
  nack(id: string, delayMs: number): Promise<void>;
  /** Pushes a held lease out to `now + leaseMs` (a handler that takes long). False if the lease was lost. */
  extend(id: string, leaseUntil: number, leaseMs: number): Promise<number | null>;
  /** Whether a `kind` message for `jobId` is still waiting or in hand (the reaper does not duplicate it). */
  hasPending(kind: QueueMessage["kind"], jobId: string): Promise<boolean>;
  /** Messages not yet acked, per topic (for health output and tests). */
  depth(): Promise<Record<string, number>>;
  /** Called after every `send` in this process, so a consumer here can wake up without waiting for its poll. */
  onSend(listener: () => void): () => void;
}

type Row = { id: string; topic: string; body: string; deliveries: number; lease_until: number };

export function createTableQueue(db: Db, clock: () => number = Date.now): TableQueue {
  const listeners = new Set<() => void>();

  return {
    async send(message, options = {}) {
      const parsed = QueueMessage.parse(message);
      const now = clock();
      await db.insert(queueMessages).values({
        id: `msg_${crypto.randomUUID().replaceAll("-", "")}`,
        topic: parsed.kind,
        body: parsed as Record<string, unknown>,
        availableAt: now + Math.max(0, options.delayMs ?? 0),
        createdAt: Math.floor(now / 1000),
      });
      for (const listener of listeners) listener();
    },

    async lease(topic, options = {}) {
      const max = Math.max(1, Math.floor(options.max ?? 1));
      const leaseMs = Math.max(1, Math.floor(options.leaseMs ?? 60_000));
      const now = clock();
      const until = now + leaseMs;
      const topics = topic === undefined ? null : typeof topic === "string" ? [topic] : [...topic];
      if (topics?.length === 0) return [];
      const topicFilter = topics ? sql`AND topic IN (${sql.join(topics, sql`, `)})` : sql``;
      const ready = sql`available_at <= ${now} AND (lease_until IS NULL OR lease_until <= ${now})`;
      const rows = await db.all<Row>(sql`
        UPDATE queue_messages SET lease_until = ${until}, deliveries = deliveries + 1
        WHERE id IN (
          SELECT id FROM queue_messages WHERE ${ready} ${topicFilter} ORDER BY available_at, id LIMIT ${max}
        ) AND ${ready}
        RETURNING id, topic, body, deliveries, lease_until`);
      return rows
        .map((r) => ({
          id: r.id,
          topic: r.topic,
          body: safeJson(r.body),
          deliveries: r.deliveries,
          leaseUntil: r.lease_until,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },

    async ack(id) {
      await db.delete(queueMessages).where(eq(queueMessages.id, id));
    },

    async nack(id, delayMs) {
      await db
        .update(queueMessages)
        .set({ leaseUntil: null, availableAt: clock() + Math.max(0, delayMs) })
        .where(eq(queueMessages.id, id));
    },

    async extend(id, leaseUntil, leaseMs) {
      const next = clock() + leaseMs;
      // Guarded by the lease we hold: if it ran out and someone else leased the message, we do not steal it back.
      const rows = await db
        .update(queueMessages)
        .set({ leaseUntil: next })
        .where(and(eq(queueMessages.id, id), eq(queueMessages.leaseUntil, leaseUntil)))
        .returning({ id: queueMessages.id });
      return rows.length ? next : null;
    },

    async hasPending(kind, jobId) {
      const rows = await db.all<{ one: number }>(
        sql`SELECT 1 AS one FROM queue_messages WHERE topic = ${kind} AND json_extract(body, '$.jobId') = ${jobId} LIMIT 1`,
      );
      return rows.length > 0;
    },

    async depth() {
      const rows = await db
        .select({ topic: queueMessages.topic, n: sql<number>`count(*)` })
        .from(queueMessages)
        .groupBy(queueMessages.topic);
      return Object.fromEntries(rows.map((r) => [r.topic, Number(r.n)]));
    },

    onSend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
