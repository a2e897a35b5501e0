import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { advanceValidation } from "../../api/jobs/service.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { registerStubModel, rftLines, sftLines, stringCheck, uploadDataset } from "./fixtures.ts";

let server: TestServer;
let model: string;
let trainId: string;
let validId: string;

beforeAll(async () => {
  server = await startServer({ RFT_WORKERS: "0" });
  model = await registerStubModel(server);
  trainId = (await uploadDataset(server, rftLines(40))).id;
  validId = (await uploadDataset(server, rftLines(10, 100), "valid.jsonl")).id;
});
afterAll(async () => server?.stop());

const rftBody = () => ({
  model,
  training_file: trainId,
  validation_file: validId,
  suffix: "arith",
  metadata: { team: "math" },
  method: { type: "reinforcement" as const, reinforcement: { grader: stringCheck, hyperparameters: { n_epochs: 2 } } },
});

describe("fine-tuning jobs through the openai SDK", () => {
  it("creates a reinforcement job that echoes its method with 'auto' kept", async () => {
    const job = await server.client.fineTuning.jobs.create(rftBody());
    expect(job).toMatchObject({
      object: "fine_tuning.job",
      status: "validating_files",
      model,
      training_file: trainId,
      validation_file: validId,
      fine_tuned_model: null,
      user_provided_suffix: "arith",
      metadata: { team: "math" },
      error: null,
      result_files: [],
    });
    expect(job.id).toMatch(/^ftjob-/);
    expect(typeof job.seed).toBe("number");
    expect(job.method?.reinforcement?.hyperparameters).toMatchObject({
      n_epochs: 2,
      batch_size: "auto",
      eval_interval: "auto",
      reasoning_effort: "default",
    });
    expect(job.method?.reinforcement?.grader).toEqual(stringCheck);
    expect(job.hyperparameters).toBeNull();
    const again = await server.client.fineTuning.jobs.retrieve(job.id);
    expect(again).toEqual(job);
  });

  it("moves validating_files → queued and records both transitions as events, newest first", async () => {
    const job = await server.client.fineTuning.jobs.create(rftBody());
    await advanceValidation(server.runtime.deps, job.id);
    await advanceValidation(server.runtime.deps, job.id); // at-least-once delivery: a repeat is a no-op
    expect((await server.client.fineTuning.jobs.retrieve(job.id)).status).toBe("queued");
    const events = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(job.id, { limit: 1 })) events.push(e);
    expect(events.map((e) => e.data)).toEqual([{ status: "queued" }, { status: "validating_files" }]);
    expect(events[0]!.created_at).toBeGreaterThanOrEqual(events[1]!.created_at);
    // A dispatch message waits on the queue for the workers.
    const leased = await server.runtime.deps.queue.lease(undefined, { max: 50, leaseMs: 1000 });
    expect(leased.map((m) => m.body)).toContainEqual({ kind: "dispatch", jobId: job.id });
  });

  it("pauses, resumes and cancels, each answered with the job and an event", async () => {
    const job = await server.client.fineTuning.jobs.create(rftBody());
    await advanceValidation(server.runtime.deps, job.id);
    expect((await server.client.fineTuning.jobs.pause(job.id)).status).toBe("paused");
    expect((await server.client.fineTuning.jobs.resume(job.id)).status).toBe("queued");
    const cancelled = await server.client.fineTuning.jobs.cancel(job.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.finished_at).toBeGreaterThan(0);
    const page = await server.client.fineTuning.jobs.listEvents(job.id, { limit: 3 });
    expect(page.data.map((e) => (e.data as { status: string }).status)).toEqual(["cancelled", "queued", "paused"]);
  });

  it("returns the first job for a repeated Idempotency-Key", async () => {
    const headers = { "Idempotency-Key": `key-${Date.now()}` };
    const [a, b] = await Promise.all([
      server.client.fineTuning.jobs.create(rftBody(), { headers }),
      server.client.fineTuning.jobs.create(rftBody(), { headers }),
    ]);
    const c = await server.client.fineTuning.jobs.create(rftBody(), { headers });
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
  });

  it("lists jobs newest first with cursor pages and a metadata filter", async () => {
    const tagged = await server.client.fineTuning.jobs.create({ ...rftBody(), metadata: { run: "filter-me" } });
    const all = [];
    for await (const j of server.client.fineTuning.jobs.list({ limit: 2 })) all.push(j.id);
    expect(all.length).toBeGreaterThanOrEqual(5);
    expect([...all].sort().reverse()).toEqual(all);
    const filtered = await server.client.fineTuning.jobs.list({ metadata: { run: "filter-me" } });
    expect(filtered.data.map((j) => j.id)).toEqual([tagged.id]);
  });

  it("creates a supervised job, and treats the deprecated top-level hyperparameters as supervised", async () => {
    const sft = (await uploadDataset(server, sftLines(12), "sft.jsonl")).id;
    const job = await server.client.fineTuning.jobs.create({
      model,
      training_file: sft,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 1, batch_size: 4 } } },
    });
    expect(job.hyperparameters).toMatchObject({ n_epochs: 1, batch_size: 4, learning_rate_multiplier: "auto" });
    const legacy = await server.client.fineTuning.jobs.create({
      model,
      training_file: sft,
      hyperparameters: { n_epochs: 2 },
    });
    expect(legacy.method?.type).toBe("supervised");
  });

  it("accepts the SDK test's body that sends every method sub-object", async () => {
    const sft = (await uploadDataset(server, sftLines(4), "sft2.jsonl")).id;
    const job = await server.client.fineTuning.jobs.create({
      model,
      training_file: sft,
      method: {
        type: "supervised",
        dpo: {
          hyperparameters: { batch_size: "auto", beta: "auto", learning_rate_multiplier: "auto", n_epochs: "auto" },
        },
        reinforcement: {
          grader: { input: "input", name: "name", operation: "eq", reference: "reference", type: "string_check" },
        },
        supervised: { hyperparameters: { batch_size: "auto", learning_rate_multiplier: "auto", n_epochs: "auto" } },
      },
      seed: 42,
      suffix: "x",
    });
    expect(job.seed).toBe(42);
    expect(job.method?.type).toBe("supervised");
  });

  it("lists base models", async () => {
    const models = await server.client.models.list();
    expect(models.data.map((m) => m.id)).toContain(model);
    expect(await server.client.models.retrieve(model)).toMatchObject({
      id: model,
      object: "model",
      owned_by: "system",
    });
  });
});
