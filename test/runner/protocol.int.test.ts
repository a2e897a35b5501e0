/**
 * The runner protocol against the real API (real HTTP, real SQLite, real local object store), driven by the
 * fake-runner (test/runner/fake-runner.ts: the real HTTP client and RunnerIO, no engine) and by raw requests.
 * Runs are launched through the real dispatcher with a recording backend (it only keeps the launch, so the test
 * can play the runner in-process).
 */
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../api/jobs/lifecycle.ts";
import { checkpoints, jobEvents, models, runs } from "../../db/schema/index.ts";
import type { RunLaunch } from "../../workers/backends/port.ts";
import { createDispatcher } from "../../workers/dispatcher.ts";
import { runFakeRunner } from "./fake-runner.ts";
import { jobRow, type RunnerServer, recordingBackend, seedJob, startRunnerServer } from "./harness.ts";

let server: RunnerServer;
let launch: (jobId: string) => Promise<RunLaunch>;

beforeAll(async () => {
  server = await startRunnerServer();
  const { backend, launches } = recordingBackend();
  const dispatcher = createDispatcher({ db: server.deps.db, backend, apiBaseUrl: server.origin });
  launch = async (jobId) => {
    const out = await dispatcher.dispatch(jobId);
    if (out.kind !== "launched") throw new Error(`not launched: ${out.reason}`);
    return launches.at(-1)!;
  };
});
afterAll(async () => {
  await server?.stop();
});

const call = (token: string, method: string, route: string, body?: unknown) =>
  fetch(`${server.origin}/runner/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const eventsOf = async (jobId: string) =>
  server.deps.db.select().from(jobEvents).where(eq(jobEvents.jobId, jobId)).orderBy(jobEvents.id);

describe("a whole run through the protocol", () => {
  it("takes a queued job to succeeded: spec, downloads, metrics, checkpoints, final status, model row", async () => {
    const seeded = await seedJob(server.deps, { totalSteps: 4 });
    const run = await launch(seeded.jobId);
    const result = await runFakeRunner({ apiUrl: server.origin, token: run.token });

    expect(result.status).toBe("succeeded");
    expect(result.spec.job.id).toBe(seeded.jobId);
    expect(result.spec.method.type).toBe("reinforcement");
    expect(result.spec.grader).toMatchObject({ type: "string_check" });
    expect(result.spec.model.files.map((f) => f.name).sort()).toEqual(["config.json", "model.safetensors"]);
    // Local store: signed URLs on this API, streamed; every byte arrived.
    expect(result.spec.training_file.url).toContain("/runner/v1/objects/");
    const expected = [result.spec.training_file, result.spec.validation_file!, ...result.spec.model.files].reduce(
      (n, f) => n + f.bytes,
      0,
    );
    expect(result.downloadedBytes).toBe(expected);
    expect(result.spec.training_file.bytes).toBe(Buffer.byteLength(seeded.trainingText));

    const job = await jobRow(server.deps, seeded.jobId);
    expect(job.status).toBe("succeeded");
    expect(job.fineTunedModel).toBe(`ft:tiny-test-model:${seeded.projectId}:unit:${seeded.jobId.slice(-8)}`);
    expect(job.currentStep).toBe(4);
    expect(job.trainedTokens).toBe(4 * 100); // tokens_per_s 200 × step_time_s 0.5 per step

    const ckpts = await server.deps.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.jobId, seeded.jobId))
      .orderBy(checkpoints.stepNumber);
    expect(ckpts.map((c) => c.stepNumber)).toEqual([2, 4]);
    expect(ckpts[1]!.modelName).toBe(`${job.fineTunedModel}:ckpt-step-4`);
    expect(ckpts[1]!.files.map((f) => f.name).sort()).toEqual(["merged/model.safetensors", "supervisor_state.json"]);
    expect(ckpts[1]!.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256 ?? ""))).toBe(true);
    const stored = await server.deps.store.head(`${ckpts[1]!.objectPrefix}/merged/model.safetensors`);
    expect(stored?.bytes).toBe(32 * 1024 + 4);
    expect(ckpts[1]!.objectPrefix).toBe(`checkpoints/${seeded.projectId}/${seeded.jobId}/step-4`);

    const model = (await server.deps.db.select().from(models).where(eq(models.id, job.fineTunedModel!)))[0];
    expect(model).toMatchObject({
      kind: "fine_tuned",
      projectId: seeded.projectId,
      checkpointId: ckpts[1]!.id,
      objectPrefix: `${ckpts[1]!.objectPrefix}/merged`,
    });

    const events = await eventsOf(seeded.jobId);
    const metrics = events.filter((e) => e.type === "metrics");
    expect(metrics.map((e) => e.data?.step)).toEqual([1, 2, 3, 4]);
    expect(metrics[1]!.data).toMatchObject({
      step: 2,
      total_steps: 4,
      scores: { train_reward_mean: 0.5, valid_reward_mean: 0.25 },
      train_mean_reward: 0.5,
      full_valid_mean_reward: 0.25,
      timing: { step: { full_iteration: 0.5 } },
    });
    expect(metrics[1]!.message).toBe(
      "Step 2/4, train mean reward=0.50, full validation mean reward=0.25, train loss=0.5000",
    );
    const messages = events.map((e) => e.message);
    expect(messages).toContain(`New fine-tuned model created: ${job.fineTunedModel}`);
    expect(messages.some((m) => m.startsWith("Runner started (attempt 1 of 3)"))).toBe(true);
    expect(messages.some((m) => m.startsWith("Checkpoint created at step 4"))).toBe(true);

    const runRow = (await server.deps.db.select().from(runs).where(eq(runs.id, run.runId)))[0]!;
    expect(runRow.status).toBe("ended");
  });

  it("resumes a second run from the last registered checkpoint and drops the redone steps' old metrics", async () => {
    const seeded = await seedJob(server.deps, { totalSteps: 6 });
    const first = await launch(seeded.jobId);
    const r1 = await runFakeRunner({ apiUrl: server.origin, token: first.token, abandonAtStep: 4 });
    expect(r1.status).toBe("abandoned");
    expect(r1.steps).toEqual([1, 2, 3]);
    // What the reaper does to a lost run: end it, requeue the job.
    await server.deps.db.update(runs).set({ status: "ended" }).where(eq(runs.id, first.runId));
    expect(
      (await transition(server.deps.db, seeded.jobId, "queued", { message: "requeued" }, { from: ["running"] })).ok,
    ).toBe(true);

    const second = await launch(seeded.jobId);
    expect(second.runId).not.toBe(first.runId);
    const r2 = await runFakeRunner({ apiUrl: server.origin, token: second.token });
    expect(r2.spec.resume?.step).toBe(2);
    expect(r2.spec.run.attempt).toBe(1); // attempts count lost runs; the test requeued by hand without counting
    expect(r2.spec.resume?.files.map((f) => f.name).sort()).toEqual([
      "merged/model.safetensors",
      "supervisor_state.json",
    ]);
    expect(r2.steps).toEqual([3, 4, 5, 6]);
    expect(r2.status).toBe("succeeded");

    const steps = (await eventsOf(seeded.jobId)).filter((e) => e.type === "metrics").map((e) => e.data?.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]); // step 3 of the first run was dropped, then redone once
  });
});

describe("control: heartbeat answers follow the job's status", () => {
  it("continue while running, pause while paused, continue again after resume, cancel after cancel", async () => {
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    expect((await call(run.token, "GET", "/spec")).status).toBe(200);
    const beat = async () =>
      (
        (await (await call(run.token, "POST", "/heartbeat", { step: 1, status: "running" })).json()) as {
          action: string;
        }
      ).action;
    expect(await beat()).toBe("continue");
    await transition(server.deps.db, seeded.jobId, "paused", { message: "paused by test" });
    expect(await beat()).toBe("pause");
    // Resume while the runner waits in place: the job is queued again; the live runner simply goes on.
    await transition(server.deps.db, seeded.jobId, "queued", { message: "resumed by test" }, { from: ["paused"] });
    expect(await beat()).toBe("continue");
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("running");
    await transition(server.deps.db, seeded.jobId, "cancelled", { message: "cancelled by test" });
    expect(await beat()).toBe("cancel");
    const runRow = (await server.deps.db.select().from(runs).where(eq(runs.id, run.runId)))[0]!;
    expect(runRow.heartbeatAt).toBeGreaterThan(0);
  });

  it("a heartbeat carries buffered events and metrics: stored like a POST /events, progress moved", async () => {
    const seeded = await seedJob(server.deps, { totalSteps: 4 });
    const run = await launch(seeded.jobId);
    await call(run.token, "GET", "/spec");
    const res = await call(run.token, "POST", "/heartbeat", {
      step: 1,
      total_steps: 4,
      status: "running",
      events: [{ level: "warn", message: "step 1: 2 grader errors", data: { step: 1 } }],
      metrics: [{ step: 1, total_steps: 4, epoch: 1, learning_rate: 1e-3, step_time_s: 0.5, batch_lines: [1, 2] }],
    });
    expect(await res.json()).toEqual({ action: "continue", job_status: "running" });
    const events = await eventsOf(seeded.jobId);
    expect(events.find((e) => e.message === "step 1: 2 grader errors")).toMatchObject({
      level: "warn",
      type: "message",
      data: { step: 1 },
    });
    expect(events.filter((e) => e.type === "metrics").map((e) => (e.data as { step: number }).step)).toEqual([1]);
    expect((await jobRow(server.deps, seeded.jobId)).currentStep).toBe(1);
  });

  it("a run that stops for a pause: the job stays paused; if it was resumed meanwhile, a new run is dispatched", async () => {
    const seeded = await seedJob(server.deps, { totalSteps: 6 });
    const run = await launch(seeded.jobId);
    await call(run.token, "GET", "/spec");
    await transition(server.deps.db, seeded.jobId, "paused", { message: "paused by test" });
    await call(run.token, "POST", "/status", { status: "paused", step: 2 });
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("paused");
    expect((await eventsOf(seeded.jobId)).map((e) => e.message)).toContain(
      "Runner stopped after step 2 and freed its machine; the job is paused and resuming starts a new run from the last checkpoint",
    );
    expect((await server.deps.db.select().from(runs).where(eq(runs.id, run.runId)))[0]!.status).toBe("ended");

    // Resumed while the next runner was still saving its pause checkpoint (its heartbeat took the job back).
    await transition(server.deps.db, seeded.jobId, "queued", { message: "resumed by test" }, { from: ["paused"] });
    const next = await launch(seeded.jobId);
    await call(next.token, "GET", "/spec");
    await transition(server.deps.db, seeded.jobId, "paused", { message: "paused again by test" });
    await transition(
      server.deps.db,
      seeded.jobId,
      "queued",
      { message: "resumed again by test" },
      { from: ["paused"] },
    );
    await call(next.token, "POST", "/heartbeat", { step: 3, status: "running" }); // queued -> running for this run
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("running");
    await call(next.token, "POST", "/status", { status: "paused", step: 3 });
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("queued");
    expect(await server.queue.hasPending("dispatch", seeded.jobId)).toBe(true);
    const third = await launch(seeded.jobId); // no live run is left in the way
    expect(third.runId).not.toBe(next.runId);
  });

  it("a run launched before a pause ends at its spec fetch without starting", async () => {
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    await transition(server.deps.db, seeded.jobId, "paused", { message: "paused by test" });
    const res = await call(run.token, "GET", "/spec");
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("job_not_runnable");
    expect((await server.deps.db.select().from(runs).where(eq(runs.id, run.runId)))[0]!.status).toBe("ended");
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("paused");
  });

  it("the fake-runner stops at a cancel and reports it; the job stays cancelled", async () => {
    const seeded = await seedJob(server.deps, { totalSteps: 6 });
    const run = await launch(seeded.jobId);
    const result = await runFakeRunner({
      apiUrl: server.origin,
      token: run.token,
      onStep: async (step) => {
        if (step === 2) await transition(server.deps.db, seeded.jobId, "cancelled", { message: "cancelled by test" });
      },
    });
    expect(result.status).toBe("cancelled");
    expect(result.steps).toEqual([1, 2]);
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("cancelled");
  });

  it("a failed status fails the job with the runner's words", async () => {
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    await call(run.token, "GET", "/spec");
    const error =
      "trainer engine exited with code 1 during 'sample'; last stderr lines:\ntorch.OutOfMemoryError: CUDA out of memory";
    const res = await call(run.token, "POST", "/status", { status: "failed", error, step: 3 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ job_status: "failed", fine_tuned_model: null });
    const job = await jobRow(server.deps, seeded.jobId);
    expect(job.error).toEqual({ code: "training_failed", message: error, param: null });
    // Reporting again (a lost answer retried) changes nothing.
    expect((await call(run.token, "POST", "/status", { status: "succeeded" })).status).toBe(200);
    expect((await jobRow(server.deps, seeded.jobId)).status).toBe("failed");
  });

  it("success without any checkpoint fails the job instead of inventing a model", async () => {
    const seeded = await seedJob(server.deps);
    const run = await launch(seeded.jobId);
    await call(run.token, "GET", "/spec");
    await call(run.token, "POST", "/status", { status: "succeeded" });
    const job = await jobRow(server.deps, seeded.jobId);
    expect(job.status).toBe("failed");
    expect(job.error?.code).toBe("no_checkpoint");
  });
});

describe("tokens are scoped to one job", () => {
  let a: RunLaunch;
  let b: RunLaunch;
  let specB: { training_file: { url: string }; model: { files: { url: string }[] } };
  let specA: { training_file: { url: string } };

  beforeAll(async () => {
    a = await launch((await seedJob(server.deps)).jobId);
    b = await launch((await seedJob(server.deps)).jobId);
    specA = (await (await call(a.token, "GET", "/spec")).json()) as typeof specA;
    specB = (await (await call(b.token, "GET", "/spec")).json()) as typeof specB;
  });

  it("no token and a wrong token are 401 in the error envelope", async () => {
    const none = await fetch(`${server.origin}/runner/v1/spec`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({
      error: { message: expect.any(String), type: "authentication_error", param: null, code: "missing_run_token" },
    });
    const wrong = await call("rft-run-not-a-real-token", "GET", "/spec");
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("invalid_run_token");
  });

  it("an API key is not a run token, and a run token is not an API key", async () => {
    expect((await call("sk-rft-test-bootstrap-key-0123456789", "GET", "/spec")).status).toBe(401);
    const res = await fetch(`${server.origin}/v1/files`, { headers: { authorization: `Bearer ${a.token}` } });
    expect(res.status).toBe(401);
  });

  it("each token sees its own job only", async () => {
    expect(specA.training_file.url).not.toBe(specB.training_file.url);
    const ownA = await call(a.token, "GET", "/spec");
    expect(((await ownA.json()) as { job: { id: string } }).job.id).toBe(a.jobId);
  });

  it("a URL signed for job B, re-signed or re-pointed by job A's runner, is refused (403)", async () => {
    const ok = await fetch(specB.training_file.url);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    // Job A's run id on job B's object: the signature no longer matches.
    const urlB = new URL(specB.training_file.url);
    urlB.searchParams.set("run", a.runId);
    const swapped = await fetch(urlB);
    expect(swapped.status).toBe(403);
    // Job A's own signature machinery pointed at job B's file: out of A's scope even with a valid signature.
    const urlA = new URL(specA.training_file.url);
    const bKey = new URL(specB.training_file.url).pathname.split("/v1/objects/")[1]!;
    const forged = new URL(`${urlA.origin}${urlA.pathname.split("/v1/objects/")[0]}/v1/objects/${bKey}${urlA.search}`);
    expect((await fetch(forged)).status).toBe(403);
    // A tampered signature, a lapsed expiry, or a GET URL used to PUT.
    const tampered = new URL(specB.training_file.url);
    tampered.searchParams.set("sig", "0".repeat(64));
    expect((await fetch(tampered)).status).toBe(403);
    const expired = new URL(specB.training_file.url);
    expired.searchParams.set("exp", "1000");
    expect((await fetch(expired)).status).toBe(403);
    expect((await fetch(specB.training_file.url, { method: "PUT", body: "x" })).status).toBe(403);
  });

  it("upload URLs only cover the job's own checkpoint prefix", async () => {
    const res = await call(a.token, "POST", "/checkpoints/uploads", {
      step: 1,
      files: [{ name: "merged/model.safetensors", bytes: 3 }],
    });
    const plan = (await res.json()) as { prefix: string; uploads: { url: string }[] };
    expect(plan.prefix).toBe(`checkpoints/${(await jobRow(server.deps, a.jobId)).projectId}/${a.jobId}/step-1`);
    const put = await fetch(plan.uploads[0]!.url, { method: "PUT", body: "abc" });
    expect(put.status).toBe(200);
    // The same signature on job B's prefix: refused.
    const url = new URL(plan.uploads[0]!.url);
    const other = url.pathname.replace(a.jobId, b.jobId);
    expect((await fetch(`${url.origin}${other}${url.search}`, { method: "PUT", body: "abc" })).status).toBe(403);
  });

  it("a checkpoint whose files were not uploaded is refused, naming the file", async () => {
    const res = await call(a.token, "POST", "/checkpoints", {
      step: 1,
      files: [{ name: "adapter/missing.safetensors", bytes: 10 }],
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Checkpoint file 'adapter/missing.safetensors' was not uploaded.",
        type: "invalid_request_error",
        param: "files.0.name",
        code: "file_not_uploaded",
      },
    });
    const wrongSize = await call(a.token, "POST", "/checkpoints", {
      step: 1,
      files: [{ name: "merged/model.safetensors", bytes: 4 }],
    });
    expect(wrongSize.status).toBe(400);
    expect(((await wrongSize.json()) as { error: { code: string } }).error.code).toBe("size_mismatch");
    const rows = await server.deps.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.jobId, a.jobId)));
    expect(rows).toHaveLength(0);
  });

  it("bodies are checked on arrival: the first bad field is named", async () => {
    const bad = await call(a.token, "POST", "/checkpoints/uploads", {
      step: 1,
      files: [{ name: "../escape", bytes: 1 }],
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("files.0.name");
    const badMetrics = await call(a.token, "POST", "/events", { metrics: [{ step: -1 }] });
    expect(((await badMetrics.json()) as { error: { param: string } }).error.param).toBe("metrics.0.step");
    const noError = await call(a.token, "POST", "/status", { status: "failed" });
    expect(((await noError.json()) as { error: { param: string } }).error.param).toBe("error");
  });

  it("an ended run can no longer write, and its heartbeat says cancel", async () => {
    await server.deps.db.update(runs).set({ status: "ended" }).where(eq(runs.id, b.runId));
    const events = await call(b.token, "POST", "/events", { events: [{ level: "info", message: "late" }] });
    expect(events.status).toBe(409);
    expect(((await events.json()) as { error: { code: string } }).error.code).toBe("run_ended");
    const beat = await call(b.token, "POST", "/heartbeat", { step: 0 });
    expect(((await beat.json()) as { action: string }).action).toBe("cancel");
    expect((await fetch(specB.model.files[0]!.url)).status).toBe(200);
  });
});
