/**
 * The reaper against the real API and database: a run whose heartbeat stopped is requeued (attempt + 1, warn
 * event, a new dispatch) and the next run resumes from the last checkpoint; out of attempts the job fails with a
 * clear error; runs that never start, processes that exited, lingering runs of finished jobs, and lost messages.
 * Time is moved with the reaper's clock; runs are played by the fake-runner or by raw protocol calls.
 */
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../api/jobs/lifecycle.ts";
import { jobEvents, runs } from "../../db/schema/index.ts";
import type { RunLaunch, RunnerBackend, RunState } from "../../workers/backends/port.ts";
import { createDispatcher } from "../../workers/dispatcher.ts";
import { createReaper } from "../../workers/reaper.ts";
import { runFakeRunner } from "../runner/fake-runner.ts";
import { jobRow, type RunnerServer, seedJob, startRunnerServer } from "../runner/harness.ts";

/** Test double of a backend: records launches and cancels; `inspect` answers what the test sets. */
function scriptedBackend() {
  const launches: RunLaunch[] = [];
  const cancelled: string[] = [];
  const states = new Map<string, RunState>();
  const backend: RunnerBackend = {
    name: "scripted",
    launch: async (run) => {
      launches.push(run);
      return { ref: run.runId };
    },
    cancel: async (ref) => void cancelled.push(ref),
    inspect: async (ref) => states.get(ref) ?? "running",
  };
  return { backend, launches, cancelled, states };
}

let server: RunnerServer;
let scripted: ReturnType<typeof scriptedBackend>;
let launch: (jobId: string) => Promise<RunLaunch>;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

beforeAll(async () => {
  server = await startRunnerServer();
  scripted = scriptedBackend();
  const dispatcher = createDispatcher({ db: server.deps.db, backend: scripted.backend, apiBaseUrl: server.origin });
  launch = async (jobId) => {
    const out = await dispatcher.dispatch(jobId);
    if (out.kind !== "launched") throw new Error(`not launched: ${out.reason}`);
    return scripted.launches.at(-1)!;
  };
});
afterAll(async () => {
  await server?.stop();
});

const reaper = (options: { nudgeAfterMs?: number } = {}) =>
  createReaper({
    db: server.deps.db,
    queue: server.queue,
    backends: [scripted.backend],
    heartbeatTimeoutMs: 60_000,
    startTimeoutMs: 300_000,
    clock,
    ...options,
  });

const pendingFor = async (jobId: string) => {
  const msgs = await server.queue.lease(undefined, { max: 100, leaseMs: 1 });
  const mine = msgs
    .filter((m) => (m.body as { jobId?: string }).jobId === jobId)
    .map((m) => (m.body as { kind: string }).kind);
  for (const m of msgs) await server.queue.ack(m.id);
  return mine;
};

const drainAll = async () => {
  const msgs = await server.queue.lease(undefined, { max: 100, leaseMs: 1 });
  for (const m of msgs) await server.queue.ack(m.id);
  return msgs.map((m) => [(m.body as { jobId: string }).jobId, (m.body as { kind: string }).kind]);
};
const runOf = async (runId: string) => (await server.deps.db.select().from(runs).where(eq(runs.id, runId)))[0]!;
const messages = async (jobId: string) =>
  (await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, jobId)).orderBy(jobEvents.id)).map(
    (e) => `${e.level}: ${e.message}`,
  );

describe("reaper", () => {
  it("requeues a run whose heartbeat stopped; the next run resumes from the last checkpoint", async () => {
    offsetMs = 0;
    const seeded = await seedJob(server.deps, { totalSteps: 6 });
    const first = await launch(seeded.jobId);
    const r1 = await runFakeRunner({ apiUrl: server.origin, token: first.token, abandonAtStep: 4 });
    expect(r1.steps).toEqual([1, 2, 3]);

    // Under the timeout (heartbeats are stored in whole seconds, and a loaded machine adds a few): still alive.
    offsetMs = 50_000;
    expect((await reaper().sweep()).requeued).toEqual([]);
    offsetMs = 61_000;
    const report = await reaper().sweep();
    expect(report.requeued).toEqual([seeded.jobId]);
    expect(report.ended[0]).toMatchObject({
      runId: first.runId,
      reason: expect.stringMatching(/^no heartbeat for \d+ s$/),
    });
    expect(scripted.cancelled).toContain(first.runId);
    expect((await runOf(first.runId)).status).toBe("ended");
    const job = await jobRow(server.deps, seeded.jobId);
    expect(job.status).toBe("queued");
    expect(job.attempts).toBe(1);
    expect(await pendingFor(seeded.jobId)).toEqual(["dispatch"]);
    expect(await messages(seeded.jobId)).toContainEqual(
      expect.stringMatching(
        /^warn: The runner was lost \(no heartbeat for \d+ s; attempt 1 of 3\); requeued, the next run resumes from the checkpoint at step 2\.$/,
      ),
    );
    // A second sweep does nothing more (the run is already ended).
    expect((await reaper().sweep()).requeued).toEqual([]);

    offsetMs = 0;
    const second = await launch(seeded.jobId);
    const r2 = await runFakeRunner({ apiUrl: server.origin, token: second.token });
    expect(r2.spec.run.attempt).toBe(2);
    expect(r2.spec.resume?.step).toBe(2);
    expect(r2.steps).toEqual([3, 4, 5, 6]);
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("succeeded");
  });

  it("gives up when attempts are used up: failed, with what happened and what is kept", async () => {
    offsetMs = 0;
    const seeded = await seedJob(server.deps, { totalSteps: 6, maxAttempts: 1 });
    const run = await launch(seeded.jobId);
    await runFakeRunner({ apiUrl: server.origin, token: run.token, abandonAtStep: 3 });
    offsetMs = 120_000;
    const report = await reaper().sweep();
    expect(report.failed).toEqual([seeded.jobId]);
    const job = await jobRow(server.deps, seeded.jobId);
    expect(job.status).toBe("failed");
    expect(job.error).toEqual({
      code: "runner_lost",
      message: expect.stringMatching(
        /^The runner was lost 1 time \(last: no heartbeat for \d+ s\); giving up\. Progress up to step 2 is kept in its checkpoint\.$/,
      ),
      param: null,
    });
    expect(job.finishedAt).toBeGreaterThan(0);
    expect(await pendingFor(seeded.jobId)).toEqual([]);
  });

  it("a run that never fetched its spec counts as lost after the start timeout (job stays queued, attempt + 1)", async () => {
    offsetMs = 0;
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    offsetMs = 290_000;
    expect((await reaper().sweep()).ended).toEqual([]);
    offsetMs = 301_000;
    const report = await reaper().sweep();
    expect(report.ended).toEqual([
      { runId: run.runId, jobId: seeded.jobId, reason: "the runner did not start within 300 s" },
    ]);
    const job = await jobRow(server.deps, seeded.jobId);
    expect(job).toMatchObject({ status: "queued", attempts: 1 });
    expect(await pendingFor(seeded.jobId)).toEqual(["dispatch"]);
  });

  it("a runner process that exited without a final status is requeued at once, without waiting for the timeout", async () => {
    offsetMs = 0;
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    const spec = await fetch(`${server.origin}/runner/v1/spec`, { headers: { authorization: `Bearer ${run.token}` } });
    expect(spec.status).toBe(200);
    scripted.states.set(run.runId, "exited");
    const report = await reaper().sweep();
    expect(report.ended[0]?.reason).toBe("the runner process exited without reporting a final status");
    expect(report.requeued).toEqual([seeded.jobId]);
    await pendingFor(seeded.jobId);
  });

  it("stops the runner of a cancelled job that does not stop by itself", async () => {
    offsetMs = 0;
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    await fetch(`${server.origin}/runner/v1/spec`, { headers: { authorization: `Bearer ${run.token}` } });
    await transition(server.deps.db, seeded.jobId, "cancelled", { message: "cancelled by test" });
    expect((await reaper().sweep()).ended).toEqual([]);
    offsetMs = 61_000;
    const report = await reaper().sweep();
    expect(report.ended).toEqual([
      { runId: run.runId, jobId: seeded.jobId, reason: "the job is cancelled; stopping its runner" },
    ]);
    expect(scripted.cancelled).toContain(run.runId);
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("cancelled");
  });

  it("re-sends lost messages: validate for a job stuck validating, dispatch for a queued job without a run", async () => {
    offsetMs = 0;
    const validating = await seedJob(server.deps, { status: "validating_files" });
    const queued = await seedJob(server.deps, { status: "queued" });
    await drainAll();
    const r = reaper({ nudgeAfterMs: 30_000 });
    // Jobs left waiting by the tests above may be nudged too: only these two are looked at.
    const mine = (report: { nudged: string[] }) =>
      report.nudged.filter((id) => id === validating.jobId || id === queued.jobId).sort();
    expect(mine(await r.sweep())).toEqual([]); // stuck since just now
    offsetMs = 25_000;
    expect(mine(await r.sweep())).toEqual([]);
    offsetMs = 31_000;
    const report = await r.sweep();
    expect(mine(report)).toEqual([validating.jobId, queued.jobId].sort());
    const sent = await drainAll();
    expect(sent).toContainEqual([validating.jobId, "validate"]);
    expect(sent).toContainEqual([queued.jobId, "dispatch"]);
    // Not again right away.
    expect(mine(await r.sweep())).toEqual([]);
    // A message still waiting in the queue (backing off) is not duplicated.
    await server.queue.send({ kind: "dispatch", jobId: queued.jobId }, { delayMs: 60_000 });
    offsetMs = 70_000;
    const waiting = await r.sweep();
    expect(waiting.nudged).toContain(validating.jobId);
    expect(waiting.nudged).not.toContain(queued.jobId);
    await drainAll();
    // A queued job with a live run is not stuck.
    await transition(server.deps.db, validating.jobId, "cancelled", { message: "done with it" });
    const run = await launch(queued.jobId);
    offsetMs = 100_000;
    const later = await r.sweep();
    expect(later.nudged).not.toContain(queued.jobId);
    await server.deps.db
      .update(runs)
      .set({ status: "ended" })
      .where(and(eq(runs.id, run.runId)));
    await transition(server.deps.db, queued.jobId, "cancelled", { message: "done with it" });
  });
});
