/**
 * The whole chain with nothing faked: the API (runner routes, table queue, workers), the local backend starting
 * `gpu-runner/supervisor/remote-main.ts` as a child process, which fetches its spec, downloads the files through
 * signed URLs, runs the RL loop on the real trainer engine (CPU, the tiny model of make_tiny_model.py), uploads and
 * registers checkpoints, and reports success. Then a second job whose runner is killed mid-run: the reaper
 * notices, requeues, and the next run resumes from the registered checkpoint on the real engine.
 * Needs the Python environment (`.venv`); skipped without it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpoints, jobEvents, runs } from "../../db/schema/index.ts";
import { hasEnginePython } from "../../gpu-runner/supervisor/python.ts";
import { createLocalBackend } from "../../workers/backends/local.ts";
import { startWorkers, type Workers } from "../../workers/node.ts";
import { type TinyFixture, tinyFixture } from "../supervisor/fixture.ts";
import { jobRow, type RunnerServer, seedJob, startRunnerServer, waitFor } from "./harness.ts";

const hasPython = hasEnginePython();

let server: RunnerServer;
let workers: Workers;
let fx: TinyFixture;
const lines = (file: string, n: number) =>
  `${readFileSync(file, "utf8").split("\n").filter(Boolean).slice(0, n).join("\n")}\n`;

describe.skipIf(!hasPython)("remote-main on the real engine, launched by the local backend", () => {
  beforeAll(async () => {
    fx = await tinyFixture();
    server = await startRunnerServer();
    workers = startWorkers(server.deps, {
      queue: server.queue,
      apiBaseUrl: server.origin,
      dataDir: server.dataDir,
      backend: createLocalBackend({
        dataDir: server.dataDir,
        env: { RFT_DEVICE: "cpu", RFT_DTYPE: "float32" },
        stopRunsOnClose: true,
        killGraceMs: 2000,
      }),
      pollMs: 50,
      heartbeatTimeoutMs: 30_000,
      reaperIntervalMs: 250,
      log: () => {},
    });
  }, 300_000);
  afterAll(async () => {
    await workers?.stop();
    await server?.stop();
  });

  const seed = (totalSteps: number, steps: { checkpoint_interval: number }) =>
    seedJob(server.deps, {
      status: "validating_files",
      model: "tiny-arith",
      modelDir: fx.model,
      trainingText: lines(fx.train, totalSteps * 2),
      validationText: lines(fx.valid, 4),
      grader: {
        type: "string_check",
        name: "exact",
        input: "{{sample.output_text}}",
        reference: "{{item.answer}}",
        operation: "eq",
      },
      totalSteps,
      resolved: {
        n_epochs: 1,
        batch_size: 2,
        n: 4,
        learning_rate: 1e-3,
        eval_interval: 2,
        eval_samples: 4,
        max_tokens: 5,
        temperature: 1,
        lora: { rank: 4, alpha: 8, dropout: 0, target_modules: "all-linear" },
        seed: 3,
        total_steps: totalSteps,
        ...steps,
      },
    });

  const finished = (jobId: string, timeoutMs = 240_000) =>
    waitFor(
      async () => {
        const j = await jobRow(server.deps, jobId);
        return j.status === "succeeded" || j.status === "failed" ? j : null;
      },
      timeoutMs,
      `job ${jobId} to finish`,
    );

  it("trains a job end to end: checkpoints in the store, metrics events, the fine-tuned model", async () => {
    const seeded = await seed(4, { checkpoint_interval: 2 });
    const t0 = Date.now();
    await server.queue.send({ kind: "validate", jobId: seeded.jobId });
    const job = await finished(seeded.jobId);
    const runRow = (await server.deps.db.select().from(runs).where(eq(runs.jobId, seeded.jobId)))[0]!;
    const log = readFileSync(path.join(server.dataDir, "runs", runRow.id, "runner.log"), "utf8");
    expect(job.error, log).toBeNull();
    expect(job.status).toBe("succeeded");
    expect(job.fineTunedModel).toBe(`ft:tiny-arith:${seeded.projectId}:unit:${seeded.jobId.slice(-8)}`);
    expect(job.currentStep).toBe(4);
    expect(job.trainedTokens).toBeGreaterThan(0);

    const ckpts = await server.deps.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.jobId, seeded.jobId))
      .orderBy(checkpoints.stepNumber);
    expect(ckpts.map((c) => c.stepNumber)).toEqual([2, 4]);
    const names = ckpts[1]!.files.map((f) => f.name);
    expect(names).toContain("supervisor_state.json");
    expect(names.some((n) => n.startsWith("merged/") && n.endsWith(".safetensors"))).toBe(true);
    expect(names.some((n) => n.startsWith("adapter/"))).toBe(true);
    for (const f of ckpts[1]!.files)
      expect((await server.deps.store.head(`${ckpts[1]!.objectPrefix}/${f.name}`))?.bytes).toBe(f.bytes);

    const events = await server.deps.db
      .select()
      .from(jobEvents)
      .where(eq(jobEvents.jobId, seeded.jobId))
      .orderBy(jobEvents.id);
    const metrics = events.filter((e) => e.type === "metrics").map((e) => e.data as Record<string, unknown>);
    expect(metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect((metrics[2]!.scores as Record<string, unknown>).train_reward_mean).toBeTypeOf("number");
    expect((metrics[2]!.scores as Record<string, unknown>).valid_reward_mean).toBeTypeOf("number");
    expect(events.some((e) => e.message.startsWith("Runner ready in"))).toBe(true);
    expect(events.some((e) => e.message.startsWith("Downloading base model tiny-arith"))).toBe(true);
    const ready = events.find((e) => e.message.startsWith("Runner ready in"))!.message;
    console.log(
      `remote-main e2e: 4 real steps on CPU, create→succeeded in ${((Date.now() - t0) / 1000).toFixed(1)} s (${ready})`,
    );
  }, 300_000);

  it("a runner killed mid-run: the reaper requeues and the next run resumes from the checkpoint on the real engine", async () => {
    const seeded = await seed(4, { checkpoint_interval: 2 });
    await server.queue.send({ kind: "validate", jobId: seeded.jobId });
    // Wait until the checkpoint at step 2 is registered, then kill the whole first run (supervisor and engine).
    await waitFor(
      async () =>
        (await server.deps.db.select().from(checkpoints).where(eq(checkpoints.jobId, seeded.jobId))).length > 0,
      240_000,
      "the first checkpoint",
    );
    const first = (await server.deps.db.select().from(runs).where(eq(runs.jobId, seeded.jobId)))[0]!;
    await workers.backend.cancel(first.backendRef!);

    const job = await finished(seeded.jobId);
    expect(job.error).toBeNull();
    expect(job.status).toBe("succeeded");
    expect(job.attempts).toBe(1);
    const runRows = await server.deps.db.select().from(runs).where(eq(runs.jobId, seeded.jobId)).orderBy(runs.attempt);
    expect(runRows).toHaveLength(2);
    const events = (
      await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId)).orderBy(jobEvents.id)
    ).map((e) => e.message);
    expect(events.some((m) => m.startsWith("The runner was lost"))).toBe(true);
    expect(events.some((m) => /resumed from step [2-6]/.test(m))).toBe(true);
    const steps = (await server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, seeded.jobId)))
      .filter((e) => e.type === "metrics")
      .map((e) => (e.data as { step: number }).step)
      .sort((a, b) => a - b);
    // Every step once: what the first run did after its checkpoint was dropped and redone.
    expect(steps).toEqual([0, 1, 2, 3, 4]);
  }, 400_000);
});
