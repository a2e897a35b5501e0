import { ID_PREFIX, newId } from "../api/lib/ids.ts";
import type { Db } from "../db/client.ts";
import { jobEvents } from "../db/schema/index.ts";

export type EventLevel = "info" | "warn" | "error";

/**
 * Appends a `fine_tuning.job.event` that is not a status change (those come from `api/jobs/lifecycle.ts` with
 * their own event). Used by the dispatcher, the reaper and the runner protocol.
 */
export async function addJobEvent(
  db: Db,
  jobId: string,
  event: {
    level: EventLevel;
    message: string;
    type?: "message" | "metrics";
    data?: Record<string, unknown> | null;
    createdAt?: number;
  },
): Promise<string> {
  const id = newId(ID_PREFIX.event);
  await db.insert(jobEvents).values({
    id,
    jobId,
    level: event.level,
    message: event.message,
    type: event.type ?? "message",
    data: event.data ?? null,
    createdAt: event.createdAt ?? Math.floor(Date.now() / 1000),
  });
  return id;
}
