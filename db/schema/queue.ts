import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn } from "./columns.ts";

/**
 * The Node queue adapter: a table with leases. A consumer leases a message (sets `leaseUntil`), acks it by
 * deleting it; a message whose lease ran out is delivered again (at-least-once). Times here are milliseconds.
 */
export const queueMessages = sqliteTable(
  "queue_messages",
  {
    id: idColumn(),
    topic: text("topic").notNull(),
    body: text("body", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    availableAt: integer("available_at").notNull(),
    leaseUntil: integer("lease_until"),
    deliveries: integer("deliveries").notNull().default(0),
    createdAt: createdAtColumn(),
  },
  (t) => [index("queue_ready").on(t.topic, t.availableAt)],
);
