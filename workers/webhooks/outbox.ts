import { type SQL, sql } from "drizzle-orm";
import { newId } from "../../api/lib/ids.ts";
import type { Db } from "../../db/client.ts";
import { jobs, webhookDeliveries, webhookEndpoints } from "../../db/schema/index.ts";

/** OpenAI's fine-tuning webhook events: one per terminal job status, nothing for the others. */
export const WEBHOOK_EVENT_TYPES = [
  "fine_tuning.job.succeeded",
  "fine_tuning.job.failed",
  "fine_tuning.job.cancelled",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Id prefixes: `evt_` and `wh_` as in OpenAI's own webhooks (body `id` and `webhook-id` header); `whep_` is ours. */
export const WEBHOOK_ID_PREFIX = { event: "evt_", delivery: "wh_", endpoint: "whep_" } as const;

/** The event type a job status emits, or null for statuses that emit none (OpenAI has no paused/running events). */
export function webhookEventTypeFor(status: string): WebhookEventType | null {
  const type = `fine_tuning.job.${status}`;
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type) ? (type as WebhookEventType) : null;
}

/** A fresh event id (`evt_…`): make one per transition and pass it to `webhookOutboxStatement`. */
export const newWebhookEventId = (now = Date.now()) => newId(WEBHOOK_ID_PREFIX.event, now);

/** The body we send, byte for byte: OpenAI's `FineTuningJob{Succeeded,Failed,Cancelled}WebhookEvent`. */
export function webhookPayload(event: { eventId: string; type: WebhookEventType; createdAt: number; jobId: string }) {
  return JSON.stringify({
    id: event.eventId,
    object: "event",
    type: event.type,
    created_at: event.createdAt,
    data: { id: event.jobId },
  });
}

export interface WebhookOutboxEvent {
  jobId: string;
  type: WebhookEventType;
  /** One id per transition, shared by every endpoint's delivery (receivers dedupe on it). */
  eventId: string;
  /** Unix seconds: when the job reached its terminal status. Also when the deliveries become due. */
  createdAt: number;
  /** Must hold for any delivery to be inserted, e.g. "the status update in this batch took effect". */
  guard: SQL;
}

/**
 * ONE statement for the caller's `db.batch`: a pending delivery of the event for every active endpoint of the
 * job's project, inserted only when `guard` holds. Put it after the status update in the same batch, so a
 * terminal transition and its deliveries commit together or not at all (the transactional outbox).
 *
 * Delivery ids are `wh_<sortable time><random>`: one time-sortable stem per statement, a random tail per row,
 * because the number of endpoints is only known inside the statement.
 */
export function webhookOutboxStatement(db: Db, event: WebhookOutboxEvent) {
  const payload = webhookPayload(event);
  const stem = newId(WEBHOOK_ID_PREFIX.delivery);
  // A query builder, not db.run(sql): drizzle's D1 batch cannot bind a raw statement (drizzle-orm#2277).
  // insert().select() fills every column in table order.
  return db.insert(webhookDeliveries).select(sql`
    SELECT ${stem} || lower(hex(randomblob(4))), ${webhookEndpoints.id}, ${event.eventId}, ${event.type}, ${payload},
      'pending', 0, ${event.createdAt}, NULL, NULL, ${event.createdAt}, NULL
    FROM ${webhookEndpoints}
    WHERE ${webhookEndpoints.projectId} = (SELECT ${jobs.projectId} FROM ${jobs} WHERE ${jobs.id} = ${event.jobId})
      AND ${webhookEndpoints.disabledAt} IS NULL
      AND (${event.guard})`);
}
