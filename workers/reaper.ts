import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import { TERMINAL, transition } from "../api/jobs/lifecycle.ts";
import type { Db } from "../db/client.ts";
import { checkpoints, jobs, runs } from "../db/schema/index.ts";
import type { RunnerBackend } from "./backends/port.ts";
import { addJobEvent } from "./job-events.ts";
import type { Queue, QueueMessage } from "./queue.ts";

/**
 * The reaper: the part of dispatch that notices what did not happen.
 *
 * 1. A run is dead when its heartbeat stopped for `heartbeatTimeoutMs`, when it never checked in within
 *    `startTimeoutMs` of launch, or when its backend says its process exited without a final status. A dead run
 *    is ended (and cancelled on its backend). If its job was `running`, the job goes back to `queued` with
 *    attempts + 1 and a warn event, and a `dispatch` is sent: the next run resumes from the last registered
 *    checkpoint. When attempts are used up the job fails with an error that says what happened and what is kept.
 * 2. A job stuck in `validating_files`, or `queued` without a live run, for `nudgeAfterMs` since its last status
 *    change gets its message sent again (a message can be lost: a crash between the status change and the send),
 *    unless the queue says one is still waiting. Handlers are idempotent. Runtime-neutral: the Workers cron can
 *    run `sweep()` too (nothing here is Node-only).
 *
 * Ending a run is one guarded UPDATE, so two reapers (two API processes) never requeue the same run twice.
 */
export interface ReaperOptions {
  db: Db;
  /** `hasPending` (the table queue has it) avoids nudging a job whose message is only backing off. */
  queue: Queue & { hasPending?: (kind: QueueMessage["kind"], jobId: string) => Promise<boolean> };
  /** Backends by name, to inspect and cancel runs; runs of a backend not given are judged by heartbeat only. */
  backends?: RunnerBackend[];
  heartbeatTimeoutMs?: number;
  startTimeoutMs?: number;
  nudgeAfterMs?: number;
  clock?: () => number;
}

export interface SweepReport {
  ended: { runId: string; jobId: string; reason: string }[];
  requeued: string[];
  failed: string[];
  nudged: string[];
}

export function createReaper(options: ReaperOptions) {
  const { db, queue } = options;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 60_000;
  const startTimeoutMs = options.startTimeoutMs ?? 10 * 60_000;
  const nudgeAfterMs = options.nudgeAfterMs ?? 30_000;
  const clock = options.clock ?? Date.now;
  const backends = new Map((options.backends ?? []).map((b) => [b.name, b]));
  /** When this reaper last nudged each job, so a stuck job gets one nudge per `nudgeAfterMs`. */
  const lastNudge = new Map<string, number>();

  async function whyDead(run: typeof runs.$inferSelect, now: number): Promise<string | null> {
    if (run.heartbeatAt !== null) {
      const silentMs = now - run.heartbeatAt * 1000;
      if (silentMs > heartbeatTimeoutMs) return `no heartbeat for ${Math.round(silentMs / 1000)} s`;
    } else if (now - run.createdAt * 1000 > startTimeoutMs) {
      return `the runner did not start within ${Math.round(startTimeoutMs / 1000)} s`;
    }
    const backend = backends.get(run.backend);
    if (backend && run.backendRef) {
      const state = await backend.inspect(run.backendRef).catch(() => "unknown" as const);
      if (state === "exited") return "the runner process exited without reporting a final status";
    }
    return null;
  }

  /** Ends the run if nobody else did; true when this call ended it. */
  async function endRun(runId: string, now: number): Promise<boolean> {
    const rows = await db
      .update(runs)
      .set({ status: "ended", endedAt: Math.floor(now / 1000) })
      .where(and(eq(runs.id, runId), ne(runs.status, "ended")))
      .returning({ id: runs.id });
    return rows.length > 0;
  }

  async function lastCheckpointStep(jobId: string): Promise<number | null> {
    const row = await db
      .select({ step: checkpoints.stepNumber })
      .from(checkpoints)
      .where(eq(checkpoints.jobId, jobId))
      .orderBy(desc(checkpoints.stepNumber))
      .limit(1);
    return row[0]?.step ?? null;
  }

  async function handleDeadRun(run: typeof runs.$inferSelect, reason: string, now: number, report: SweepReport) {
    if (!(await endRun(run.id, now))) return;
    report.ended.push({ runId: run.id, jobId: run.jobId, reason });
    const backend = backends.get(run.backend);
    if (backend && run.backendRef) await backend.cancel(run.backendRef).catch(() => {});
    const job = (await db.select().from(jobs).where(eq(jobs.id, run.jobId)).limit(1))[0];
    if (!job || (job.status !== "running" && job.status !== "queued")) return;

    const attempts = job.attempts + 1;
    const step = await lastCheckpointStep(job.id);
    const kept =
      step === null ? "no checkpoint was saved yet" : `progress up to step ${step} is kept in its checkpoint`;
    const data = {
      run_id: run.id,
      attempt: run.attempt,
      attempts,
      max_attempts: job.maxAttempts,
      reason,
      resume_step: step,
    };
    if (attempts >= job.maxAttempts) {
      const message = `The runner was lost ${attempts} time${attempts === 1 ? "" : "s"} (last: ${reason}); giving up. ${capitalize(kept)}.`;
      const res = await transition(
        db,
        job.id,
        "failed",
        { level: "error", message, data },
        { from: [job.status], patch: { attempts, error: { code: "runner_lost", message, param: null } } },
      );
      if (res.ok) report.failed.push(job.id);
      return;
    }
    const message = `The runner was lost (${reason}; attempt ${run.attempt} of ${job.maxAttempts}); requeued, the next run resumes from ${step === null ? "the start" : `the checkpoint at step ${step}`}.`;
    if (job.status === "running") {
      const res = await transition(
        db,
        job.id,
        "queued",
        { level: "warn", message, data },
        { from: ["running"], patch: { attempts } },
      );
      if (!res.ok) return;
    } else {
      // Still `queued` (the run never fetched its spec): no status change, only the count and the event.
      await db
        .update(jobs)
        .set({ attempts })
        .where(and(eq(jobs.id, job.id), eq(jobs.status, "queued")));
      await addJobEvent(db, job.id, { level: "warn", message, data });
    }
    await queue.send({ kind: "dispatch", jobId: job.id });
    report.requeued.push(job.id);
  }

  async function nudge(now: number, report: SweepReport) {
    const waiting = await db
      .select({ id: jobs.id, status: jobs.status, updatedAt: jobs.updatedAt })
      .from(jobs)
      .where(
        sql`${jobs.status} = 'validating_files' OR (${jobs.status} = 'queued' AND NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${runs.jobId} = ${jobs.id} AND ${runs.status} != 'ended'))`,
      );
    const seen = new Set<string>();
    for (const job of waiting) {
      seen.add(job.id);
      // Stuck since its last status change (a row fact, so this works in a fresh process or isolate too), or
      // since this reaper last nudged it.
      const since = Math.max(updatedAtMs(job.updatedAt), lastNudge.get(job.id) ?? 0);
      if (now - since < nudgeAfterMs) continue;
      const kind = job.status === "validating_files" ? "validate" : "dispatch";
      // Where the queue can tell, a message still waiting (backing off) is not lost: no duplicate.
      if (await queue.hasPending?.(kind, job.id)) continue;
      await queue.send({ kind, jobId: job.id });
      lastNudge.set(job.id, now);
      report.nudged.push(job.id);
    }
    for (const id of lastNudge.keys()) if (!seen.has(id)) lastNudge.delete(id);
  }

  /** One pass: dead runs first (their requeue sends its own dispatch), then nudges. */
  async function sweep(): Promise<SweepReport> {
    const now = clock();
    const report: SweepReport = { ended: [], requeued: [], failed: [], nudged: [] };
    const live = await db
      .select()
      .from(runs)
      .where(inArray(runs.status, ["starting", "running"]));
    const jobRows = live.length
      ? await db
          .select({ id: jobs.id, status: jobs.status, finishedAt: jobs.finishedAt })
          .from(jobs)
          .where(inArray(jobs.id, [...new Set(live.map((r) => r.jobId))]))
      : [];
    const jobOf = new Map(jobRows.map((j) => [j.id, j]));
    for (const run of live) {
      const job = jobOf.get(run.jobId);
      // A finished job's runner is told `cancel` at its next heartbeat; one that does not stop in time is stopped.
      const lingering =
        job && TERMINAL.has(job.status) && now - (job.finishedAt ?? 0) * 1000 > heartbeatTimeoutMs
          ? `the job is ${job.status}; stopping its runner`
          : null;
      const reason = lingering ?? (await whyDead(run, now));
      if (reason) await handleDeadRun(run, reason, now, report);
    }
    await nudge(now, report);
    return report;
  }

  return { sweep };
}

export type Reaper = ReturnType<typeof createReaper>;

/** `jobs.updatedAt` as milliseconds: the lifecycle writes ms × 1000 (+ a tie-breaker); seconds and ms also read right. */
function updatedAtMs(value: number): number {
  if (value > 1e14) return value / 1000;
  if (value > 1e11) return value;
  return value * 1000;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
