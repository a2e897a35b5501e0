import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn, projectColumn } from "./columns.ts";

/** Where a project wants `fine_tuning.job.*` events delivered, with its Standard Webhooks secret (`whsec_…`). */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: idColumn(),
    projectId: projectColumn(),
    url: text("url").notNull(),
    secret: text("secret").notNull(),
    createdAt: createdAtColumn(),
    disabledAt: integer("disabled_at"),
  },
  (t) => [index("webhook_endpoints_project").on(t.projectId)],
);

/** One event for one endpoint, retried with backoff until delivered or out of attempts. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: idColumn(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: createdAtColumn(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [index("webhook_deliveries_due").on(t.status, t.nextAttemptAt)],
);
