import { eq, sql } from "drizzle-orm";
import { newSecret, sha256Hex } from "../api/lib/hash.ts";
import { newId } from "../api/lib/ids.ts";
import type { Db } from "../db/client.ts";
import { jobs, runs } from "../db/schema/index.ts";
import type { RunnerBackend } from "./backends/port.ts";
import { addJobEvent } from "./job-events.ts";

/**
 * The dispatcher: turns a `dispatch` message into one run of a `queued` job on the runner backend.
 *
 * Idempotent under at-least-once delivery: the run row is inserted by ONE guarded statement that requires the job
 * to be `queued` and to have no run that is not `ended`, so duplicate messages, or two consumers, launch at most one
 * run. The reaper ends runs that died, which is what lets the next dispatch launch again.
 */
export type DispatchOutcome =
  | { kind: "launched"; runId: string; attempt: number; ref: string }
  | { kind: "skipped"; reason: "no_such_job" | "not_queued" | "run_live" };

export interface DispatcherOptions {
  db: Db;
  backend: RunnerBackend;
  /** The API base URL as the runner reaches it (no trailing slash; the runner adds `/runner/v1/...`). */
  apiBaseUrl: string;
}

export const RUN_ID_PREFIX = "run_";
export const RUN_TOKEN_PREFIX = "rft-run-";

export function createDispatcher(options: DispatcherOptions) {
  const { db, backend } = options;
  const apiBaseUrl = options.apiBaseUrl.replace(/\/+$/, "");

  async function dispatch(jobId: string): Promise<DispatchOutcome> {
    const job = (await db.select().from(jobs).where(eq(jobs.id, jobId)).limit(1))[0];
    if (!job) return { kind: "skipped", reason: "no_such_job" };
    if (job.status !== "queued") return { kind: "skipped", reason: "not_queued" };

    const runId = newId(RUN_ID_PREFIX);
    const token = newSecret(RUN_TOKEN_PREFIX);
    const tokenHash = await sha256Hex(token);
    const now = Math.floor(Date.now() / 1000);
    // One statement, so the check and the insert cannot interleave with another dispatcher's. A query builder,
    // not db.run(sql), so it runs the same on D1; insert().select() fills the columns in table order.
    await db.insert(runs).select(sql`
      SELECT ${runId}, ${jobId}, ${jobs.attempts} + 1, ${backend.name}, NULL, ${tokenHash}, 'starting', ${now}, NULL, NULL
      FROM ${jobs}
      WHERE ${jobs.id} = ${jobId} AND ${jobs.status} = 'queued'
        AND NOT EXISTS (SELECT 1 FROM ${runs} WHERE ${runs.jobId} = ${jobId} AND ${runs.status} != 'ended')`);
    const run = (await db.select().from(runs).where(eq(runs.id, runId)).limit(1))[0];
    if (!run) {
      const now2 = (await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId)).limit(1))[0];
      return { kind: "skipped", reason: now2?.status === "queued" ? "run_live" : "not_queued" };
    }

    let ref: string;
    try {
      ({ ref } = await backend.launch({ jobId, runId, token, apiBaseUrl }));
    } catch (err) {
      await db
        .update(runs)
        .set({ status: "ended", endedAt: Math.floor(Date.now() / 1000) })
        .where(eq(runs.id, runId));
      await addJobEvent(db, jobId, {
        level: "warn",
        message: `Could not launch a runner on the ${backend.name} backend (will retry): ${(err as Error).message}`,
        data: { run_id: runId, attempt: run.attempt },
      });
      throw err;
    }
    await db.update(runs).set({ backendRef: ref }).where(eq(runs.id, runId));
    await addJobEvent(db, jobId, {
      level: "info",
      message: `Runner launched on the ${backend.name} backend (attempt ${run.attempt} of ${job.maxAttempts})`,
      data: { run_id: runId, attempt: run.attempt, backend: backend.name },
    });
    return { kind: "launched", runId, attempt: run.attempt, ref };
  }

  return { dispatch };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
