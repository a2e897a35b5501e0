/**
 * The Workers deployment, end to end: the bundle `wrangler deploy` would upload runs in workerd (Miniflare) over
 * D1, R2 and a Cloudflare queue bound as in wrangler.toml, and is driven through the official `openai` SDK.
 */
import { createHash } from "node:crypto";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzyMatch } from "../../graders/metrics/fuzzy.ts";
import { type FakeChatServer, startFakeChatServer } from "../graders/fake-chat-server.ts";
import { stringCheck } from "../jobs/fixtures.ts";
import { buildWorkerBundle, eventually, removeBundle, startWorkerdApi, type WorkerdApi } from "./harness.ts";

const rftLine = (i: number) =>
  JSON.stringify({ messages: [{ role: "user", content: `What is ${i} + ${i}?` }], answer: String(i + i) });
const rftJsonl = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${rftLine(i + from)}\n`).join("");

let bundle: Awaited<ReturnType<typeof buildWorkerBundle>> | undefined;
let api: WorkerdApi;
/** No language model can run here: model graders reach this scripted OpenAI-compatible server on 127.0.0.1. */
let chat: FakeChatServer;

beforeAll(async () => {
  [bundle, chat] = await Promise.all([buildWorkerBundle(), startFakeChatServer()]);
  api = await startWorkerdApi(bundle, { RFT_GRADER_BASE_URL: chat.baseURL, RFT_GRADER_API_KEY: "sk-grader-key" });
});
afterAll(async () => {
  await api?.stop();
  await chat?.stop();
  if (bundle) await removeBundle(bundle);
});

/** Keys in the Worker's R2 bucket under `prefix`, read through Miniflare's proxy of the binding. */
async function bucketKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.bucket.list(cursor ? { prefix, cursor } : { prefix });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

async function expectApiError(call: Promise<unknown>, status: number, fields: Record<string, unknown>) {
  const err = await call.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(err, "expected the call to fail").toBeInstanceOf(OpenAI.APIError);
  const apiError = err as InstanceType<typeof OpenAI.APIError>;
  expect(apiError.status).toBe(status);
  expect(apiError.headers?.get("x-request-id")).toMatch(/^req_/);
  expect(Object.keys(apiError.error as object).sort()).toEqual(["code", "message", "param", "type"]);
  expect(apiError.error).toMatchObject(fields);
  return apiError;
}

describe("the Worker bundle in workerd", () => {
  it("serves /health from the R2 store and refuses requests without a valid key", async () => {
    const health = await fetch(`${api.origin}/health`);
    expect(await health.json()).toMatchObject({ status: "ok", store: "r2" });
    const wrongKey = new OpenAI({ baseURL: api.baseURL, apiKey: "sk-rft-not-a-real-key-000000", maxRetries: 0 });
    await expectApiError(wrongKey.files.list(), 401, { code: "invalid_api_key", type: "authentication_error" });
  });

  it("stores a dataset in R2, then retrieves, lists, downloads and deletes it", async () => {
    const { client, projectId } = api;
    const text = rftJsonl(40);
    const created = await client.files.create({
      file: await toFile(Buffer.from(text), "train.jsonl"),
      purpose: "fine-tune",
    });
    expect(created).toMatchObject({
      object: "file",
      bytes: Buffer.byteLength(text),
      filename: "train.jsonl",
      purpose: "fine-tune",
      status: "processed",
      status_details: null,
    });
    expect(created.id).toMatch(/^file-/);
    expect(await bucketKeys(`files/${projectId}/`)).toEqual([`files/${projectId}/${created.id}`]);

    expect(await client.files.retrieve(created.id)).toEqual(created);
    const listed: string[] = [];
    for await (const file of client.files.list({ purpose: "fine-tune", limit: 1 })) listed.push(file.id);
    expect(listed).toContain(created.id);

    const content = await client.files.content(created.id);
    expect(content.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(await content.text()).toBe(text);

    expect(await client.files.delete(created.id)).toEqual({ id: created.id, object: "file", deleted: true });
    await expectApiError(client.files.retrieve(created.id), 404, { param: "id", code: "not_found" });
    expect(await bucketKeys(`files/${projectId}/${created.id}`)).toEqual([]);
  });

  it("rejects an invalid dataset naming the line, and leaves nothing in R2", async () => {
    const before = await bucketKeys(`files/${api.projectId}/`);
    const lines = rftJsonl(10).split("\n");
    lines[3] = "{not json";
    await expectApiError(
      api.client.files.create({ file: await toFile(Buffer.from(lines.join("\n")), "bad.jsonl"), purpose: "fine-tune" }),
      400,
      {
        message: expect.stringMatching(/^Invalid fine-tuning file 'bad\.jsonl': line 4: invalid JSON/),
        param: "file",
        code: "invalid_file",
        type: "invalid_request_error",
      },
    );
    expect(await bucketKeys(`files/${api.projectId}/`)).toEqual(before);
  });

  it("assembles an upload from parallel parts; the file is validated after the response (waitUntil)", async () => {
    const { client } = api;
    const bytes = Buffer.from(rftJsonl(600));
    const upload = await client.uploads.create({
      bytes: bytes.length,
      filename: "big.jsonl",
      mime_type: "application/jsonl",
      purpose: "fine-tune",
    });
    expect(upload).toMatchObject({ object: "upload", status: "pending", bytes: bytes.length, file: null });
    const third = Math.ceil(bytes.length / 3);
    const parts = await Promise.all(
      [0, 1, 2].map(async (i) =>
        client.uploads.parts.create(upload.id, {
          data: await toFile(bytes.subarray(i * third, (i + 1) * third), `part-${i}`),
        }),
      ),
    );
    expect(await bucketKeys(`uploads/${api.projectId}/${upload.id}/`)).toHaveLength(3);

    const md5 = createHash("md5").update(bytes).digest("hex");
    const done = await client.uploads.complete(upload.id, { part_ids: parts.map((p) => p.id), md5 });
    expect(done).toMatchObject({ id: upload.id, status: "completed" });
    expect(done.file).toMatchObject({ object: "file", bytes: bytes.length, filename: "big.jsonl" });
    expect(["uploaded", "processed"]).toContain(done.file?.status);

    const file = await eventually(
      () => client.files.retrieve(done.file?.id as string),
      (f) => f.status !== "uploaded",
    );
    expect(file).toMatchObject({ status: "processed", status_details: null });
    expect(await (await client.files.content(file.id)).text()).toBe(bytes.toString());
    // Complete copied nothing: the parts are the file's bytes until the file is deleted.
    expect(await bucketKeys(`uploads/${api.projectId}/${upload.id}/`)).toHaveLength(3);
    await client.files.delete(file.id);
    expect(await bucketKeys(`uploads/${api.projectId}/${upload.id}/`)).toEqual([]);
  });

  it("an uploaded dataset with a bad line ends as an error file naming it", async () => {
    const { client } = api;
    const bytes = Buffer.from(`${rftJsonl(5)}{"messages": "nope"}\n`);
    const upload = await client.uploads.create({
      bytes: bytes.length,
      filename: "bad-upload.jsonl",
      mime_type: "application/jsonl",
      purpose: "fine-tune",
    });
    const part = await client.uploads.parts.create(upload.id, { data: await toFile(bytes, "part-0") });
    const done = await client.uploads.complete(upload.id, { part_ids: [part.id] });
    const file = await eventually(
      () => client.files.retrieve(done.file?.id as string),
      (f) => f.status !== "uploaded",
    );
    expect(file.status).toBe("error");
    expect(file.status_details).toMatch(/line 6/);
  });

  it("completes an upload of 101 parts (D1 binds at most 100 parameters per statement)", async () => {
    const { client } = api;
    const lines = Array.from({ length: 101 }, (_, i) => rftLine(i));
    const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(""));
    const upload = await client.uploads.create({
      bytes: bytes.length,
      filename: "many-parts.jsonl",
      mime_type: "application/jsonl",
      purpose: "fine-tune",
    });
    const partIds: string[] = [];
    for (let i = 0; i < lines.length; i += 20) {
      const sent = await Promise.all(
        lines
          .slice(i, i + 20)
          .map(async (line, j) =>
            client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from(`${line}\n`), `part-${i + j}`) }),
          ),
      );
      partIds.push(...sent.map((part) => part.id));
    }
    const done = await client.uploads.complete(upload.id, { part_ids: partIds });
    expect(done).toMatchObject({ status: "completed", file: { bytes: bytes.length } });
    const file = await eventually(
      () => client.files.retrieve(done.file?.id as string),
      (f) => f.status !== "uploaded",
    );
    expect(file.status).toBe("processed");
    expect(await (await client.files.content(file.id)).text()).toBe(bytes.toString());
    await client.files.delete(file.id);
    expect(await bucketKeys(`uploads/${api.projectId}/${upload.id}/`)).toEqual([]);
  });

  it("runs a string_check grader", async () => {
    const graders = api.client.fineTuning.alpha.graders;
    const hit = await graders.run({ grader: stringCheck, model_sample: "4", item: { answer: "4" } });
    expect(hit.reward).toBe(1);
    expect(hit.metadata.errors).toMatchObject({ formula_parse_error: false, python_grader_server_error: false });
    const miss = await graders.run({ grader: stringCheck, model_sample: "5", item: { answer: "4" } });
    expect(miss.reward).toBe(0);
    // No sandbox in a Worker: a python grader is a zero reward with the server error flag, not a failed call.
    const python = await graders.run({
      grader: { type: "python", name: "py", source: "def grade(sample, item):\n    return 1.0\n" },
      model_sample: "4",
    });
    expect(python.reward).toBe(0);
    expect(python.metadata.errors).toMatchObject({ python_grader_server_error: true });
    await expectApiError(
      graders.run({ grader: { ...stringCheck, operation: "equals" as "eq" }, model_sample: "4", item: {} }),
      400,
      { code: "invalid_grader", param: "grader.operation" },
    );
  });

  it("runs text_similarity fuzzy_match in the Worker with Node's scores (its WebAssembly module uploaded compiled)", async () => {
    const grader = {
      type: "text_similarity" as const,
      name: "fuzzy",
      input: "{{sample.output_text}}",
      reference: "{{item.ref}}",
      evaluation_metric: "fuzzy_match" as const,
    };
    for (const [sample, ref] of [
      ["The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."],
      ["日本語 the hopeful airliner", "日本語 formative hopeful airliner"],
    ] as const) {
      const result = await api.client.fineTuning.alpha.graders.run({ grader, model_sample: sample, item: { ref } });
      expect((result.metadata as { error?: unknown }).error).toBeNull();
      expect(result.reward).toBe(fuzzyMatch(sample, ref));
    }
  });

  it("runs a score_model grader through the configured OpenAI-compatible endpoint (fetch from workerd)", async () => {
    chat.requests.length = 0;
    const result = await api.client.fineTuning.alpha.graders.run({
      grader: {
        type: "score_model",
        name: "judge",
        model: "judge-1",
        input: [{ role: "user", content: "Reference: {{item.ref}}\nAnswer: {{sample.output_text}}" }],
      },
      model_sample: "SCORE=0.75",
      item: { ref: "x" },
    });
    expect(result.reward).toBeCloseTo(0.75, 12);
    expect(result.metadata.errors).toMatchObject({ model_grader_server_error: false });
    expect(chat.requests).toHaveLength(1);
    expect(chat.requests[0]).toMatchObject({ path: "/v1/chat/completions", authorization: "Bearer sk-grader-key" });
  });

  it("accepts a reinforcement job, sends `validate` to the queue, and the Worker's consumer queues the job", async () => {
    const { client, db, bucket } = api;
    // A base model as an operator registers one: its Hugging Face files in R2 under the row's object_prefix.
    const prefix = "models/base/tiny-workerd";
    const utf8 = (text: string) => new TextEncoder().encode(text);
    await bucket.put(`${prefix}/config.json`, utf8(JSON.stringify({ model_type: "llama" })));
    await bucket.put(`${prefix}/tokenizer.json`, utf8("{}"));
    await db
      .prepare(
        "INSERT INTO models (id, project_id, kind, owned_by, object_prefix, created_at) VALUES (?, NULL, ?, ?, ?, ?)",
      )
      .bind("tiny-workerd", "base", "system", prefix, Math.floor(Date.now() / 1000))
      .run();
    expect((await client.models.retrieve("tiny-workerd")).id).toBe("tiny-workerd");

    const training = await client.files.create({
      file: await toFile(Buffer.from(rftJsonl(20)), "train.jsonl"),
      purpose: "fine-tune",
    });
    const job = await client.fineTuning.jobs.create({
      model: "tiny-workerd",
      training_file: training.id,
      method: { type: "reinforcement", reinforcement: { grader: stringCheck, hyperparameters: { n_epochs: 1 } } },
      seed: 7,
    });
    expect(job).toMatchObject({
      object: "fine_tuning.job",
      model: "tiny-workerd",
      status: "validating_files",
      seed: 7,
    });
    expect(job.id).toMatch(/^ftjob-/);

    // Only the queue moves a job out of validating_files: the `validate` message went through Cloudflare Queues
    // to the Worker's own `queue` handler, which re-checked the files and queued the job.
    const queued = await eventually(
      () => client.fineTuning.jobs.retrieve(job.id),
      (j) => j.status !== "validating_files",
    );
    expect(queued.status).toBe("queued");
    const events: string[] = [];
    for await (const event of client.fineTuning.jobs.listEvents(job.id)) events.push(event.message);
    expect(events).toContain("Files validated; job queued");

    // A terminal transition also writes the webhook outbox in the same D1 batch.
    const cancelled = await client.fineTuning.jobs.cancel(job.id);
    expect(cancelled.status).toBe("cancelled");
  });
});
