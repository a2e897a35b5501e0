/**
 * Dispatch end to end in one API process, as the Node entry runs it: `startWorkers` (consumer + reaper) over the
 * table queue, the real local backend launching child processes, the real runner protocol. The child is the
 * fake-runner (test/runner/fake-runner.ts: the real HTTP client, no trainer engine), started by the local backend
 * exactly as it starts remote-main.ts. The first run crashes mid-way (exit 1, no status); the reaper sees the
 * process gone, requeues, and the second run resumes from the checkpoint and finishes.
 */
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobEvents, runs } from "../../db/schema/index.ts";
import { createLocalBackend } from "../../workers/backends/local.ts";
import type { RunnerBackend } from "../../workers/backends/port.ts";
import { startWorkers, type Workers } from "../../workers/node.ts";
import { jobRow, type RunnerServer, seedJob, startRunnerServer, waitFor } from "../runner/harness.ts";

let server: RunnerServer;
let workers: Workers | undefined;

beforeAll(async () => {
  server = await startRunnerServer();
});
afterAll(async () => {
  await workers?.stop();
  await server?.stop();
});

const fakeRunnerCommand = [
  join(process.cwd(), "node_modules/.bin/tsx"),
  join(process.cwd(), "test/runner/fake-runner.ts"),
];

describe("dispatch with the local backend", () => {
  it("validate → queued → launched → crash → requeued → resumed → succeeded", async () => {
    const backend = createLocalBackend({
      dataDir: server.dataDir,
      command: fakeRunnerCommand,
      env: { FAKE_RUNNER_CRASH_AT_STEP: "3", FAKE_RUNNER_STEP_MS: "20" },
      stopRunsOnClose: true,
      killGraceMs: 1000,
    });
    const dispatched: string[] = [];
    workers = startWorkers(server.deps, {
      queue: server.queue,
      apiBaseUrl: server.origin,
      dataDir: server.dataDir,
      backend,
      pollMs: 50,
      heartbeatTimeoutMs: 20_000,
      reaperIntervalMs: 200,
      log: () => {},
      onDispatch: (_id, outcome) => dispatched.push(outcome.kind),
    });
    const seeded = await seedJob(server.deps, { status: "validating_files", totalSteps: 4 });
    const t0 = Date.now();
    await server.queue.send({ kind: "validate", jobId: seeded.jobId });

    const job = await waitFor(
      async () => {
        const j = await jobRow(server.deps, seeded.jobId);
        return j.status === "succeeded" || j.status === "failed" ? j : null;
      },
      90_000,
      "the job to finish",
    );
    const seconds = (Date.now() - t0) / 1000;
    expect(job.error).toBeNull();
    expect(job.status).toBe("succeeded");
    expect(job.attempts).toBe(1);
    expect(job.fineTunedModel).toMatch(/^ft:tiny-test-model:/);

    const runRows = await server.deps.db.select().from(runs).where(eq(runs.jobId, seeded.jobId)).orderBy(runs.attempt);
    expect(runRows.map((r) => [r.attempt, r.backend, r.status])).toEqual([
      [1, "local", "ended"],
      [2, "local", "ended"],
    ]);
    expect(runRows[0]!.backendRef).toMatch(/^\d+:run_/);
    expect(dispatched.filter((k) => k === "launched")).toHaveLength(2);

    const events = (
      await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId)).orderBy(jobEvents.id)
    ).map((e) => e.message);
    expect(events).toContain("Files validated; job queued");
    expect(events).toContain("Runner launched on the local backend (attempt 1 of 3)");
    expect(
      events.some((m) =>
        m.startsWith(
          "The runner was lost (the runner process exited without reporting a final status; attempt 1 of 3)",
        ),
      ),
    ).toBe(true);
    expect(events).toContain("fake-runner started at step 2 of 4 (attempt 2)");
    expect(events.some((m) => m.startsWith("New fine-tuned model created"))).toBe(true);
    // Each run's output went to its own log file under the data dir.
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(join(server.dataDir, "runs", runRows[1]!.id, "runner.log"), "utf8")).toContain(
      "fake-runner: succeeded",
    );
    console.log(`dispatch e2e (2 runs, one crash) took ${seconds.toFixed(1)} s`);
    await workers.stop();
    workers = undefined;
  });

  it("a backend that cannot launch: retried with backoff, then the job fails with the reason", async () => {
    const broken: RunnerBackend = {
      name: "broken",
      launch: async () => {
        throw new Error("no GPU nodes in the pool");
      },
      cancel: async () => {},
      inspect: async () => "unknown",
    };
    workers = startWorkers(server.deps, {
      queue: server.queue,
      apiBaseUrl: server.origin,
      dataDir: server.dataDir,
      backend: broken,
      pollMs: 20,
      maxDeliveries: 3,
      backoffBaseMs: 20,
      log: () => {},
    });
    const seeded = await seedJob(server.deps, { status: "queued" });
    await server.queue.send({ kind: "dispatch", jobId: seeded.jobId });
    const job = await waitFor(async () => {
      const j = await jobRow(server.deps, seeded.jobId);
      return j.status === "failed" ? j : null;
    });
    expect(job.error).toEqual({
      code: "dispatch_error",
      message: "Could not launch a runner after repeated attempts: no GPU nodes in the pool",
      param: null,
    });
    const warnings = (await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId))).filter(
      (e) => e.message.startsWith("Could not launch a runner on the broken backend"),
    );
    expect(warnings).toHaveLength(3);
    await workers.stop();
    workers = undefined;
  });
});
