import { and, desc, eq, inArray, isNotNull, isNull, lt } from "drizzle-orm";
import { newId } from "../../api/lib/ids.ts";
import type { Db } from "../../db/client.ts";
import { webhookDeliveries, webhookEndpoints } from "../../db/schema/index.ts";
import { WEBHOOK_ID_PREFIX } from "./outbox.ts";
import { newWebhookSecret } from "./signature.ts";

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Named queries behind the endpoints API. Every lookup is scoped to a project; a deleted endpoint is gone. */

export async function createWebhookEndpoint(db: Db, projectId: string, url: string): Promise<WebhookEndpointRow> {
  const row = {
    id: newId(WEBHOOK_ID_PREFIX.endpoint),
    projectId,
    url,
    secret: newWebhookSecret(),
    createdAt: Math.floor(Date.now() / 1000),
    disabledAt: null,
  };
  await db.insert(webhookEndpoints).values(row);
  return row;
}

export async function findWebhookEndpoint(db: Db, projectId: string, id: string): Promise<WebhookEndpointRow | null> {
  const rows = await db
    .select()
    .from(webhookEndpoints)
    .where(
      and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.projectId, projectId), isNull(webhookEndpoints.disabledAt)),
    )
    .limit(1);
  return rows[0] ?? null;
}

/** Newest first; `after` is the last id of the previous page. Fetches `limit + 1` rows (see `toPage`). */
export async function listWebhookEndpoints(
  db: Db,
  projectId: string,
  page: { after?: string | undefined; limit: number },
) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.projectId, projectId),
        isNull(webhookEndpoints.disabledAt),
        page.after ? lt(webhookEndpoints.id, page.after) : undefined,
      ),
    )
    .orderBy(desc(webhookEndpoints.id))
    .limit(page.limit + 1);
}

/**
 * Disables the endpoint (the row stays, so its deliveries keep their endpoint) and gives up its pending
 * deliveries, in one batch. Returns false when there was no such active endpoint in the project.
 */
export async function deleteWebhookEndpoint(db: Db, projectId: string, id: string, now = Date.now()): Promise<boolean> {
  const nowS = Math.floor(now / 1000);
  const [disabled] = (await db.batch([
    db
      .update(webhookEndpoints)
      .set({ disabledAt: nowS })
      .where(
        and(
          eq(webhookEndpoints.id, id),
          eq(webhookEndpoints.projectId, projectId),
          isNull(webhookEndpoints.disabledAt),
        ),
      )
      .returning({ id: webhookEndpoints.id }),
    db
      .update(webhookDeliveries)
      .set({ status: "failed", lastError: "endpoint deleted" })
      .where(
        and(
          eq(webhookDeliveries.status, "pending"),
          // Only if the endpoint is ours and now disabled: another project's id changes nothing.
          inArray(
            webhookDeliveries.endpointId,
            db
              .select({ id: webhookEndpoints.id })
              .from(webhookEndpoints)
              .where(
                and(
                  eq(webhookEndpoints.id, id),
                  eq(webhookEndpoints.projectId, projectId),
                  isNotNull(webhookEndpoints.disabledAt),
                ),
              ),
          ),
        ),
      ),
  ])) as [{ id: string }[], unknown];
  return disabled.length > 0;
}

/** Deliveries of one endpoint, newest first, cursor-paged like every list. */
export async function listWebhookDeliveries(
  db: Db,
  endpointId: string,
  page: { after?: string | undefined; limit: number },
) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.endpointId, endpointId), page.after ? lt(webhookDeliveries.id, page.after) : undefined),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(page.limit + 1);
}
