import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { registerStubModel, rftLines, sftLines, stringCheck, uploadDataset } from "./fixtures.ts";

let server: TestServer;
let model: string;
let trainId: string;
let sftId: string;

beforeAll(async () => {
  server = await startServer({ RFT_WORKERS: "0" });
  model = await registerStubModel(server);
  trainId = (await uploadDataset(server, rftLines(8))).id;
  sftId = (await uploadDataset(server, sftLines(8), "sft.jsonl")).id;
});
afterAll(async () => server?.stop());

const rl = (over: Record<string, unknown> = {}, reinforcement: Record<string, unknown> = {}) => ({
  model,
  training_file: trainId,
  method: { type: "reinforcement", reinforcement: { grader: stringCheck, ...reinforcement } },
  ...over,
});

/** POSTs a raw body (the SDK's types would stop most of these before they are sent) and returns the envelope. */
async function create(body: unknown, key = server.apiKey) {
  const res = await fetch(`${server.baseURL}/fine_tuning/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } },
  };
}

async function jobCount() {
  const page = await server.client.fineTuning.jobs.list({ limit: 1000 });
  return page.data.length;
}

describe("creating a job with bad input: an OpenAI envelope naming the field, and no job", () => {
  const cases: [string, () => unknown, string, string | null][] = [
    ["unknown training file", () => rl({ training_file: "file-nope" }), "training_file", "file_not_found"],
    ["unknown validation file", () => rl({ validation_file: "file-nope" }), "validation_file", "file_not_found"],
    ["a model that does not exist", () => rl({ model: "gpt-nope" }), "model", "model_not_found"],
    ["a supervised file for an RL job", () => rl({ training_file: sftId }), "training_file", "invalid_file_format"],
    [
      "an RFT file for a supervised job",
      () => ({ model, training_file: trainId, method: { type: "supervised" } }),
      "training_file",
      "invalid_file_format",
    ],
    [
      "a grader with a bad operation",
      () => rl({}, { grader: { ...stringCheck, operation: "contains" } }),
      "method.reinforcement.grader.operation",
      null,
    ],
    [
      "an unknown grader type",
      () => rl({}, { grader: { type: "vibes", name: "x" } }),
      "method.reinforcement.grader.type",
      null,
    ],
    [
      "a label_model grader at the top level",
      () =>
        rl(
          {},
          {
            grader: {
              type: "label_model",
              name: "l",
              model: "m",
              input: [{ role: "user", content: "Label {{sample.output_text}}" }],
              labels: ["a", "b"],
              passing_labels: ["a"],
            },
          },
        ),
      "method.reinforcement.grader.type",
      null,
    ],
    [
      "batch_size out of range",
      () => rl({}, { hyperparameters: { batch_size: 0 } }),
      "method.reinforcement.hyperparameters.batch_size",
      "invalid_value",
    ],
    [
      "n_epochs of the wrong type",
      () => rl({}, { hyperparameters: { n_epochs: "many" } }),
      "method.reinforcement.hyperparameters.n_epochs",
      "invalid_value",
    ],
    [
      "an unknown hyperparameter",
      () => rl({}, { hyperparameters: { warp_speed: 9 } }),
      "method.reinforcement.hyperparameters",
      "invalid_value",
    ],
    ["an unknown top-level parameter", () => rl({ test_file: trainId }), null as never, "invalid_value"],
    [
      "a reinforcement method without its grader",
      () => rl({ method: { type: "reinforcement" } }),
      "method.reinforcement",
      "missing_required_parameter",
    ],
    ["DPO", () => rl({ method: { type: "dpo" } }), "method.type", "unsupported_method"],
    ["a suffix with spaces", () => rl({ suffix: "my model" }), "suffix", "invalid_value"],
    [
      "more than 16 metadata pairs",
      () => rl({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }),
      "metadata",
      "invalid_value",
    ],
  ];
  for (const [name, body, param, code] of cases) {
    it(name, async () => {
      const before = await jobCount();
      const { status, body: envelope } = await create(body());
      expect(status).toBe(400);
      expect(envelope.error.type).toBe("invalid_request_error");
      if (param !== null) expect(envelope.error.param).toBe(param);
      if (code !== null) expect(envelope.error.code).toBe(code);
      expect(envelope.error.message.length).toBeGreaterThan(10);
      expect(await jobCount()).toBe(before);
    });
  }

  it("a file of another project is unknown here", async () => {
    const other = await server.newTenant();
    const theirs = (await uploadDataset(server, rftLines(4), "theirs.jsonl", other.client)).id;
    const { status, body } = await create(rl({ training_file: theirs }));
    expect(status).toBe(400);
    expect(body.error.param).toBe("training_file");
  });

  it("a file that is still being processed is refused until it is ready", async () => {
    // An upload completes into a file in status `uploaded`; validation then runs in the background.
    const up = await server.client.uploads.create({
      bytes: 3,
      filename: "x.jsonl",
      mime_type: "application/jsonl",
      purpose: "fine-tune",
    });
    await server.client.uploads.cancel(up.id);
    const { body } = await create(rl({ training_file: "file-still-processing" }));
    expect(body.error.param).toBe("training_file");
  });
});

describe("job actions on the wrong state or the wrong project", () => {
  it("cancel twice: the second is a 400 invalid_state, not a retried 409", async () => {
    const job = await server.client.fineTuning.jobs.create(rl() as never);
    await server.client.fineTuning.jobs.cancel(job.id);
    const err = await server.client.fineTuning.jobs.cancel(job.id).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe("invalid_state");
    expect(err.param).toBe("fine_tuning_job_id");
  });

  it("resume of a job that is not paused, pause of a validating job", async () => {
    const job = await server.client.fineTuning.jobs.create(rl() as never);
    const resume = await server.client.fineTuning.jobs.resume(job.id).catch((e) => e);
    expect(resume).toBeInstanceOf(OpenAI.BadRequestError);
    expect(resume.message).toContain("validating_files");
    const pause = await server.client.fineTuning.jobs.pause(job.id).catch((e) => e);
    expect(pause).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("another project's job is 404 on every route", async () => {
    const job = await server.client.fineTuning.jobs.create(rl() as never);
    const other = await server.newTenant();
    for (const call of [
      () => other.client.fineTuning.jobs.retrieve(job.id),
      () => other.client.fineTuning.jobs.cancel(job.id),
      () => other.client.fineTuning.jobs.pause(job.id),
      () => other.client.fineTuning.jobs.resume(job.id),
      () => other.client.fineTuning.jobs.listEvents(job.id),
      () => other.client.fineTuning.jobs.checkpoints.list(job.id),
    ]) {
      const err = await call().catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.param).toBe("fine_tuning_job_id");
    }
    expect((await server.client.fineTuning.jobs.retrieve(job.id)).status).toBe("validating_files");
  });

  it("no key and a wrong key are 401 on the jobs routes", async () => {
    const noKey = await fetch(`${server.baseURL}/fine_tuning/jobs`);
    expect(noKey.status).toBe(401);
    const { status, body } = await create(rl(), "sk-wrong-key-000000000000");
    expect(status).toBe(401);
    expect(body.error.code).toBe("invalid_api_key");
  });
});
