/**
 * The runner protocol on the Workers build: the bundle `wrangler deploy` would upload runs in workerd (Miniflare)
 * over D1, R2 and a Cloudflare queue, and launches runs on Kubernetes, the one backend a Worker drives, here a
 * FAKE Kubernetes API on 127.0.0.1 (test/workers/fake-kube-api.ts). The test takes the run token and API URL
 * from the Secret and Job the Worker created and plays the runner with the supervisor's own protocol client
 * (`RunnerClient`, `HttpRunnerIO` from gpu-runner/supervisor/http-io.ts: same headers, bodies and batching); it
 * checks what a user sees through the `openai` SDK. Events and metrics ride on one heartbeat, so their
 * `json_each` insert runs on D1 with more than one 100-row chunk. A cancelled job's runner that does not stop is
 * stopped by the cron's reaper, through the same fake API.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type OpenAI from "openai";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { HttpRunnerIO, RunnerClient } from "../../gpu-runner/supervisor/http-io.ts";
import type { StepMetrics } from "../../gpu-runner/supervisor/runner-io.ts";
import { stringCheck } from "../jobs/fixtures.ts";
import { FakeKubeApi, type KubeObject } from "../workers/fake-kube-api.ts";
import { buildWorkerBundle, eventually, freePort, removeBundle, startWorkerdApi, type WorkerdApi } from "./harness.ts";

const TRAINING_TEXT = Array.from({ length: 20 }, (_, i) =>
  JSON.stringify({ messages: [{ role: "user", content: `What is ${i} + ${i}?` }], answer: String(i + i) }),
)
  .map((line) => `${line}\n`)
  .join("");
/** 20 lines in batches of 4, one epoch. */
const TOTAL_STEPS = 5;
const BASE_MODEL = "tiny-runner";
/** More than one 100-row chunk of the heartbeat's insert, with the metrics rows after them. */
const NOTES = 150;
const SA_TOKEN = "sa-token-for-the-fake-api";

let bundle: Awaited<ReturnType<typeof buildWorkerBundle>> | undefined;
let api: WorkerdApi;
const kube = new FakeKubeApi();
let trainingFileId = "";
let workDir = "";

beforeAll(async () => {
  const [built, port] = await Promise.all([buildWorkerBundle(), freePort(), kube.start()]);
  bundle = built;
  api = await startWorkerdApi(
    built,
    {
      RFT_K8S_IMAGE: "ghcr.io/example/rft-runner:test",
      RFT_K8S_API_SERVER: kube.url,
      RFT_K8S_TOKEN: SA_TOKEN,
      RFT_RUNNER_API_URL: `http://127.0.0.1:${port}`,
    },
    { port },
  );
  workDir = await mkdtemp(join(tmpdir(), "rft-workerd-runner-"));
  // A base model as an operator registers one: its files in R2 under the row's object_prefix.
  const prefix = `models/base/${BASE_MODEL}`;
  await api.bucket.put(`${prefix}/config.json`, new TextEncoder().encode(JSON.stringify({ model_type: "llama" })));
  await api.db
    .prepare(
      "INSERT INTO models (id, project_id, kind, owned_by, object_prefix, created_at) VALUES (?, NULL, ?, ?, ?, ?)",
    )
    .bind(BASE_MODEL, "base", "system", prefix, Math.floor(Date.now() / 1000))
    .run();
  const file = await api.client.files.create({
    file: await toFile(Buffer.from(TRAINING_TEXT), "train.jsonl"),
    purpose: "fine-tune",
  });
  trainingFileId = file.id;
});
afterAll(async () => {
  vi.restoreAllMocks();
  await api?.stop();
  await kube.stop();
  if (bundle) await removeBundle(bundle);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface LaunchedRun {
  jobId: string;
  secret: KubeObject;
  kubeJob: KubeObject;
  token: string;
  apiUrl: string;
}

/** Creates a reinforcement job and waits until the Worker's consumer launched its run on the fake cluster. */
async function launchJob(): Promise<LaunchedRun> {
  const job = await api.client.fineTuning.jobs.create({
    model: BASE_MODEL,
    training_file: trainingFileId,
    method: {
      type: "reinforcement",
      reinforcement: { grader: stringCheck, hyperparameters: { n_epochs: 1, batch_size: 4 } },
    },
  });
  const label = "rft.dev/job-id";
  const kubeJob = await eventually(
    () => kube.findByLabel("jobs", label, job.id),
    (found) => found !== undefined,
  );
  const secret = kube.findByLabel("secrets", label, job.id);
  if (!kubeJob || !secret) throw new Error(`no run launched for ${job.id}`);
  // A pod starts seconds after its Job is accepted; here the "runner" could beat the dispatcher's own event.
  await eventually(
    async () => (await api.client.fineTuning.jobs.listEvents(job.id, { limit: 5 })).data,
    (events) => events.some((e) => e.message.startsWith("Runner launched on the kubernetes backend")),
  );
  const env = kubeJob.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  return {
    jobId: job.id,
    secret,
    kubeJob,
    token: secret.stringData.RFT_RUN_TOKEN,
    apiUrl: env.find((e) => e.name === "RFT_API_URL")?.value ?? "",
  };
}

/** The supervisor's client for a run; no retries (a failure here is a finding, not a blip). */
const runnerClient = (run: LaunchedRun) =>
  new RunnerClient({ apiUrl: run.apiUrl, token: run.token, retry: { deadlineMs: 0 }, log: () => {} });

/** One step's numbers as the loop reports them (gpu-runner/supervisor/loop.ts). */
const stepMetrics = (step: number): StepMetrics => ({
  step,
  total_steps: TOTAL_STEPS,
  epoch: 1,
  learning_rate: 1e-5,
  train_reward_mean: step / 10,
  train_loss: 1 / step,
  step_time_s: 0.5,
  tokens_per_s: 200,
  time_sample_s: 0.3,
  time_grade_s: 0.1,
  time_train_s: 0.1,
  batch_lines: [4 * step - 3, 4 * step - 2, 4 * step - 1, 4 * step],
});

/** Every request the runner's client sends to the Worker, in order (the supervisor uses the global fetch). */
function recordRunnerRequests(apiUrl: string) {
  const sent: { method: string; path: string; body: Record<string, unknown> | null }[] = [];
  const realFetch = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.startsWith(apiUrl)) {
      sent.push({
        method: init?.method ?? "GET",
        path: new URL(url).pathname,
        body: typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : null,
      });
    }
    return realFetch(input, init);
  });
  return { sent, restore: () => spy.mockRestore() };
}

async function allEvents(jobId: string) {
  const events: OpenAI.FineTuning.Jobs.FineTuningJobEvent[] = [];
  for await (const event of api.client.fineTuning.jobs.listEvents(jobId, { limit: 100 })) events.push(event);
  return events.reverse(); // newest first on the wire
}

describe("the runner protocol on the Worker (D1, R2, runs on a fake Kubernetes API)", () => {
  let run: LaunchedRun;

  it("launches a run as a Secret holding the token and a Job that names the Worker's URL", async () => {
    const callsBefore = kube.calls.length;
    run = await launchJob();
    expect(run.token).toMatch(/^rft-run-/);
    expect(run.apiUrl).toBe(api.origin);
    expect(JSON.stringify(run.kubeJob)).not.toContain(run.token);
    expect(run.kubeJob.spec.template.spec.containers[0].image).toBe("ghcr.io/example/rft-runner:test");
    const name = run.kubeJob.metadata.name as string;
    const calls = kube.calls.slice(callsBefore);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /api/v1/namespaces/rft-runners/secrets",
      "POST /apis/batch/v1/namespaces/rft-runners/jobs",
      `PATCH /api/v1/namespaces/rft-runners/secrets/${name}`,
    ]);
    expect(calls.every((c) => c.auth === `Bearer ${SA_TOKEN}`)).toBe(true);
    const job = await api.client.fineTuning.jobs.retrieve(run.jobId);
    expect(job.status).toBe("queued");
  });

  it("runs it: spec, >100 events and 4 steps' metrics on one heartbeat, a checkpoint through R2, succeeded", async () => {
    const client = runnerClient(run);
    const wire = recordRunnerRequests(run.apiUrl);
    const spec = await client.spec();
    expect(spec.job).toMatchObject({ id: run.jobId, model: BASE_MODEL, status: "running" });
    expect(spec.grader).toEqual(stringCheck);
    expect(spec.total_steps).toBe(TOTAL_STEPS);
    expect(spec.training_file).toMatchObject({ name: "train.jsonl", bytes: Buffer.byteLength(TRAINING_TEXT) });
    // R2 cannot presign inside a Worker: the runner reads through URLs the Worker signed for this run.
    expect(spec.training_file.url.startsWith(`${run.apiUrl}/runner/v1/objects/`)).toBe(true);
    const downloaded = join(workDir, "train.jsonl");
    await client.download(spec.training_file, downloaded);
    expect(await readFile(downloaded, "utf8")).toBe(TRAINING_TEXT);

    // The loop's reporting: metrics after each step, events batched, all of it on the next heartbeat.
    const io = new HttpRunnerIO(client, { flushMs: 60_000, maxBatch: 1_000, minHeartbeatGapMs: 0 });
    await io.begin({ totalSteps: TOTAL_STEPS, resumedFromStep: 0 });
    for (let step = 1; step <= 4; step++) {
      await io.metrics(stepMetrics(step));
      if (step === 1) {
        await io.emit(
          Array.from({ length: NOTES }, (_, i) => ({
            level: i % 50 === 49 ? ("warn" as const) : ("info" as const),
            message: `runner note ${i}`,
            data: { i },
          })),
        );
      }
    }
    expect(await io.heartbeat({ step: 4, totalSteps: TOTAL_STEPS, status: "running" })).toBe("continue");
    const beats = wire.sent.filter((r) => r.path === "/runner/v1/heartbeat");
    expect(beats).toHaveLength(1);
    expect(beats[0]?.body).toMatchObject({ step: 4, total_steps: TOTAL_STEPS, status: "running" });
    expect(beats[0]?.body?.events).toHaveLength(NOTES);
    expect(beats[0]?.body?.metrics).toHaveLength(4);

    const midway = await api.client.fineTuning.jobs.retrieve(run.jobId);
    expect(midway.status).toBe("running");
    expect(midway.trained_tokens).toBe(4 * 100); // tokens_per_s 200 × step_time_s 0.5 per step
    expect(midway.estimated_finish).toBeGreaterThanOrEqual(midway.created_at);

    // The last step, then its checkpoint: files PUT to the URLs the Worker hands out, then registered.
    await io.metrics(stepMetrics(5));
    const dir = join(workDir, "checkpoints", "step-5");
    await mkdir(join(dir, "merged"), { recursive: true });
    const weights = randomBytes(40_000);
    const state = JSON.stringify({ version: 1, step: 5, total_steps: TOTAL_STEPS });
    await writeFile(join(dir, "merged", "model.safetensors"), weights);
    await writeFile(join(dir, "supervisor_state.json"), state);
    const files = [
      { name: "merged/model.safetensors", bytes: weights.length },
      { name: "supervisor_state.json", bytes: Buffer.byteLength(state) },
    ];
    await io.checkpoint({ step: 5, path: dir, files, metrics: { step: 5, train_reward_mean: 0.5 } });
    await io.finish("succeeded");
    await io.close();
    wire.restore();
    expect(wire.sent.map((r) => `${r.method} ${r.path.replace(/objects\/.*/, "objects/…")}`)).toEqual([
      "GET /runner/v1/spec",
      "GET /runner/v1/objects/…",
      "POST /runner/v1/heartbeat",
      "POST /runner/v1/events", // step 5's metrics, flushed before the checkpoint
      "POST /runner/v1/checkpoints/uploads",
      "PUT /runner/v1/objects/…",
      "PUT /runner/v1/objects/…",
      "POST /runner/v1/checkpoints",
      "POST /runner/v1/events", // the "checkpoint uploaded" event, flushed before the status
      "POST /runner/v1/status",
    ]);

    const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
    const job = await api.client.fineTuning.jobs.retrieve(run.jobId);
    const modelName = `ft:${BASE_MODEL}:${api.projectId}::${run.jobId.slice(-8)}`;
    expect(job).toMatchObject({
      status: "succeeded",
      fine_tuned_model: modelName,
      trained_tokens: 5 * 100,
      estimated_finish: null,
      error: null,
    });
    expect(job.finished_at).toBeGreaterThanOrEqual(job.created_at);

    const checkpoints = await api.client.fineTuning.jobs.checkpoints.list(run.jobId);
    expect(checkpoints.data).toHaveLength(1);
    expect(checkpoints.data[0]).toMatchObject({
      object: "fine_tuning.job.checkpoint",
      fine_tuning_job_id: run.jobId,
      step_number: 5,
      fine_tuned_model_checkpoint: `${modelName}:ckpt-step-5`,
      metrics: { step: 5, train_reward_mean: 0.5 },
    });
    expect((checkpoints.data[0] as unknown as { files: unknown[] }).files).toEqual([
      { name: "merged/model.safetensors", bytes: weights.length, sha256: sha(weights) },
      { name: "supervisor_state.json", bytes: Buffer.byteLength(state), sha256: sha(state) },
    ]);
    const prefix = `checkpoints/${api.projectId}/${run.jobId}/step-5`;
    const stored = await api.bucket.get(`${prefix}/merged/model.safetensors`);
    expect(Buffer.from(await new Response(stored?.body).arrayBuffer()).equals(weights)).toBe(true);

    const models: string[] = [];
    for await (const model of api.client.models.list()) models.push(model.id);
    expect(models).toContain(modelName);
    expect(await api.client.models.retrieve(modelName)).toMatchObject({ id: modelName, owned_by: api.projectId });
  });

  it("lists the run's events in order, with their types and data, and pages them as the SDK walks them", async () => {
    const events = await allEvents(run.jobId);
    const started = events.findIndex((e) => e.message.startsWith("Runner started (attempt 1 of"));
    expect(started).toBeGreaterThan(0);
    const fromRunner = events.slice(started + 1);
    const notes = fromRunner.slice(0, NOTES);
    expect(notes.map((e) => e.message)).toEqual(Array.from({ length: NOTES }, (_, i) => `runner note ${i}`));
    expect(notes.every((e) => e.type === "message")).toBe(true);
    expect(notes.filter((e) => e.level === "warn").map((e) => e.data)).toEqual([{ i: 49 }, { i: 99 }, { i: 149 }]);

    const metrics = fromRunner.filter((e) => e.type === "metrics");
    expect(metrics.map((e) => (e.data as { step?: number } | null)?.step)).toEqual([1, 2, 3, 4, 5]);
    expect(fromRunner.slice(NOTES, NOTES + 4)).toEqual(metrics.slice(0, 4)); // right after the notes
    expect(metrics[1]).toMatchObject({
      level: "info",
      message: "Step 2/5, train mean reward=0.20, train loss=0.5000",
      data: {
        step: 2,
        total_steps: TOTAL_STEPS,
        scores: { train_reward_mean: 0.2 },
        train_mean_reward: 0.2,
        timing: { step: { sampling: 0.3, grading: 0.1, training: 0.1, full_iteration: 0.5 } },
        trained_tokens: 100,
      },
    });
    expect(metrics[1]?.data).not.toHaveProperty("batch_lines");

    const tail = fromRunner.slice(NOTES + 5).map((e) => e.message);
    expect(tail).toEqual([
      expect.stringMatching(/^Checkpoint created at step 5: ft:/),
      expect.stringMatching(/^step 5: checkpoint uploaded \(2 files, 0\.0 MB in /),
      "The job has successfully completed",
      expect.stringMatching(/^New fine-tuned model created: ft:/),
    ]);

    // Cursor pages: `after` is the last id seen, newest first, no event twice or missed.
    const first = await api.client.fineTuning.jobs.listEvents(run.jobId, { limit: 60 });
    expect(first.data).toHaveLength(60);
    expect(first.has_more).toBe(true);
    const second = await api.client.fineTuning.jobs.listEvents(run.jobId, {
      limit: 60,
      after: String(first.data.at(-1)?.id),
    });
    expect(second.data).toHaveLength(60);
    const newestFirst = [...events].reverse();
    expect([...first.data, ...second.data].map((e) => e.id)).toEqual(newestFirst.slice(0, 120).map((e) => e.id));
    let pages = 0;
    for (let page = first; ; page = await page.getNextPage()) {
      pages++;
      if (!page.hasNextPage()) break;
    }
    expect(pages).toBe(Math.ceil(events.length / 60));
  });

  it("refuses a wrong token (401) and a malformed heartbeat (400 naming the field) in the OpenAI envelope", async () => {
    const post = (token: string, route: string, body: string) =>
      fetch(`${run.apiUrl}/runner/v1${route}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
    const wrong = await post("rft-run-not-a-real-token-0000000000", "/heartbeat", JSON.stringify({ step: 1 }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await wrong.json()).toEqual({
      error: { message: "Invalid run token.", type: "authentication_error", param: null, code: "invalid_run_token" },
    });

    const malformed = [
      { body: { step: "four" }, param: "step" },
      { body: { step: 4, status: "sleeping" }, param: "status" },
      {
        body: { step: 4, metrics: [stepMetrics(4), { ...stepMetrics(5), train_loss: "low" }] },
        param: "metrics.1.train_loss",
      },
      { body: { step: 4, events: [{ level: "debug", message: "x" }] }, param: "events.0.level" },
    ];
    for (const { body, param } of malformed) {
      const res = await post(run.token, "/heartbeat", JSON.stringify(body));
      expect(res.status, param).toBe(400);
      expect(await res.json(), param).toEqual({
        error: {
          message: expect.stringContaining(`'${param}'`),
          type: "invalid_request_error",
          param,
          code: "invalid_value",
        },
      });
    }
    const notJson = await post(run.token, "/heartbeat", "{step: 4");
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({
      error: { message: "Malformed JSON in request body", type: "invalid_request_error", param: null, code: null },
    });
  });

  it("cancels a job while its runner heartbeats: the answer says cancel; a runner that lingers is deleted", async () => {
    const second = await launchJob();
    const client = runnerClient(second);
    await client.spec();
    const io = new HttpRunnerIO(client, { flushMs: 60_000, minHeartbeatGapMs: 0 });
    await io.begin({ totalSteps: TOTAL_STEPS, resumedFromStep: 0 });
    await io.metrics(stepMetrics(1));
    expect(await io.heartbeat({ step: 1, totalSteps: TOTAL_STEPS, status: "running" })).toBe("continue");

    const cancelled = await api.client.fineTuning.jobs.cancel(second.jobId);
    expect(cancelled.status).toBe("cancelled");
    const callsAtCancel = kube.calls.length;
    const answer = await client.call("POST", "/heartbeat", z.unknown(), {
      step: 1,
      total_steps: TOTAL_STEPS,
      status: "running",
    });
    expect(answer).toEqual({ action: "cancel", job_status: "cancelled" });
    expect(await io.heartbeat({ step: 1, totalSteps: TOTAL_STEPS, status: "running" })).toBe("cancel");
    // Cancelling is a status change: the runner hears it on its next heartbeat and stops itself; the Job stays.
    expect(kube.calls.slice(callsAtCancel)).toEqual([]);

    // A runner that does not stop: once the job has been cancelled longer than the heartbeat timeout (60 s,
    // moved back in D1 here), the cron's reaper ends the run and deletes its Job and Secret.
    await api.db.prepare("UPDATE jobs SET finished_at = finished_at - 120 WHERE id = ?").bind(second.jobId).run();
    const worker = (await api.mf.getWorker()) as unknown as { scheduled(o: { cron: string }): Promise<unknown> };
    await worker.scheduled({ cron: "* * * * *" });
    const name = second.kubeJob.metadata.name as string;
    const deletes = await eventually(
      () => kube.calls.slice(callsAtCancel).filter((c) => c.method === "DELETE"),
      (found) => found.length >= 2,
    );
    expect(deletes.map((c) => c.path)).toEqual([
      `/apis/batch/v1/namespaces/rft-runners/jobs/${name}`,
      `/api/v1/namespaces/rft-runners/secrets/${name}`,
    ]);
    expect(deletes[0]?.body).toMatchObject({ propagationPolicy: "Background" });
    expect(kube.objects.has(`jobs/${name}`)).toBe(false);

    // The runner's late report changes nothing: its run has ended, the job stays cancelled.
    await io.finish("cancelled");
    const job = await api.client.fineTuning.jobs.retrieve(second.jobId);
    expect(job.status).toBe("cancelled");
    const messages = (await allEvents(second.jobId)).map((e) => e.message);
    expect(messages).toContain("Job cancelled by the user");
    expect(messages.filter((m) => m.startsWith("The runner stopped"))).toEqual([]);
  });
});
