import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jobEvents, jobs } from "../../db/schema/index.ts";
import { newWebhookEventId, webhookEventTypeFor, webhookOutboxStatement } from "../../workers/webhooks/outbox.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";

/**
 * The job lifecycle: the only code that writes `jobs.status`. Every transition is one atomic batch that moves
 * the status (guarded by the states it may come from), writes its event and, for a terminal status, the webhook
 * deliveries (a transactional outbox); if the guard fails, none of it happens.
 * Diagram and rules: api/jobs/README.md.
 */
export const JOB_STATUSES = [
  "validating_files",
  "queued",
  "running",
  "paused",
  "succeeded",
  "failed",
  "cancelled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);

/** Allowed moves. `running → queued` is the reaper requeueing a run whose heartbeat stopped. */
export const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  validating_files: ["queued", "failed", "cancelled"],
  queued: ["running", "paused", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled", "paused", "queued"],
  // succeeded: a pause that came after the last step, while the runner saved the final checkpoint.
  paused: ["queued", "cancelled", "failed", "succeeded"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export const canTransition = (from: JobStatus, to: JobStatus) => TRANSITIONS[from].includes(to);
const sourcesOf = (to: JobStatus) => JOB_STATUSES.filter((from) => canTransition(from, to));

export interface TransitionEvent {
  level?: "info" | "warn" | "error";
  message: string;
  data?: Record<string, unknown>;
}

type JobPatch = Partial<
  Pick<
    typeof jobs.$inferInsert,
    | "error"
    | "fineTunedModel"
    | "finishedAt"
    | "trainedTokens"
    | "resultFiles"
    | "estimatedFinish"
    | "attempts"
    | "totalSteps"
  >
>;

export type TransitionResult = { ok: true; from: JobStatus[] } | { ok: false; current: JobStatus | null };

/**
 * Moves `jobId` to `to` if its current status is one of `from` (default: every status allowed to reach `to`),
 * applying `patch` and writing `event` in the same batch. Returns `{ok:false, current}` when the guard fails —
 * an expected outcome the caller turns into an error or ignores.
 */
export async function transition(
  db: Db,
  jobId: string,
  to: JobStatus,
  event: TransitionEvent,
  options: { from?: readonly JobStatus[]; patch?: JobPatch } = {},
): Promise<TransitionResult> {
  const from = (options.from ?? sourcesOf(to)).filter((s) => canTransition(s, to));
  if (!from.length) return { ok: false, current: await currentStatus(db, jobId) };
  const now = Date.now();
  // A stamp unique to this transition: the event row is inserted only if the update above it took effect.
  const stamp = now * 1000 + Math.floor(Math.random() * 1000);
  const finished = TERMINAL.has(to) ? { finishedAt: Math.floor(now / 1000) } : {};
  const eventId = newId(ID_PREFIX.event);
  const data = JSON.stringify({ status: to, ...(event.data ?? {}) });
  const tookEffect = sql`EXISTS (SELECT 1 FROM ${jobs} WHERE ${jobs.id} = ${jobId} AND ${jobs.updatedAt} = ${stamp})`;
  const webhookType = webhookEventTypeFor(to);
  await db.batch([
    db
      .update(jobs)
      .set({ status: to, updatedAt: stamp, ...finished, ...(options.patch ?? {}) })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, from))),
    db.insert(jobEvents).select(sql`
      SELECT ${eventId}, ${jobId}, ${Math.floor(now / 1000)}, ${event.level ?? "info"}, ${event.message}, 'message', ${data}
      WHERE ${tookEffect}`),
    ...(webhookType
      ? [
          webhookOutboxStatement(db, {
            jobId,
            type: webhookType,
            eventId: newWebhookEventId(now),
            createdAt: Math.floor(now / 1000),
            guard: tookEffect,
          }),
        ]
      : []),
  ]);
  const row = await db.select({ status: jobs.status, updatedAt: jobs.updatedAt }).from(jobs).where(eq(jobs.id, jobId));
  if (row[0]?.updatedAt === stamp) return { ok: true, from: [...from] };
  return { ok: false, current: row[0]?.status ?? null };
}

async function currentStatus(db: Db, jobId: string): Promise<JobStatus | null> {
  const row = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId)).limit(1);
  return row[0]?.status ?? null;
}
