/**
 * POST /v1/fine_tuning/alpha/graders/run and /validate through the official `openai` SDK against the real app
 * (test/helpers/server.ts), with model graders pointed at fake-chat-server and python graders in the sandbox.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { type FakeChatServer, startFakeChatServer } from "./fake-chat-server.ts";
import { NO_ERRORS } from "./helpers.ts";

let api: TestServer;
let chat: FakeChatServer;
let client: OpenAI;

beforeAll(async () => {
  chat = await startFakeChatServer();
  api = await startServer({ RFT_GRADER_BASE_URL: chat.baseURL, RFT_GRADER_API_KEY: "sk-grader-endpoint" });
  client = api.client;
});
afterAll(async () => {
  await api?.stop();
  await chat?.stop();
});

const stringCheck = {
  type: "string_check",
  name: "name",
  input: "{{sample.output_text}}",
  operation: "eq",
  reference: "{{item.answer}}",
} as const;

async function badRequest(p: Promise<unknown>) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  return err as InstanceType<typeof OpenAI.BadRequestError>;
}

describe("graders API through the openai SDK", () => {
  it("runs the SDK's own test body", async () => {
    const r = await client.fineTuning.alpha.graders.run({
      grader: { input: "input", name: "name", operation: "eq", reference: "reference", type: "string_check" },
      model_sample: "model_sample",
      item: {},
    });
    expect(r).toEqual({
      reward: 0,
      metadata: {
        name: "name",
        type: "string_check",
        errors: NO_ERRORS,
        execution_time: expect.any(Number),
        scores: {},
        token_usage: null,
        sampled_model_name: null,
        error: null,
      },
      sub_rewards: {},
      model_grader_token_usage_per_model: {},
    });
  });

  it("fills sample and item from model_sample and item", async () => {
    const r = await client.fineTuning.alpha.graders.run({
      grader: stringCheck,
      model_sample: "Paris",
      item: { answer: "Paris" },
    });
    expect(r.reward).toBe(1);
    const json = await client.fineTuning.alpha.graders.run({
      grader: {
        type: "text_similarity",
        name: "t",
        input: "{{sample.output_json.city}}",
        reference: "{{item.answer}}",
        evaluation_metric: "fuzzy_match",
      },
      model_sample: '{"city": "paris"}',
      item: { answer: "Paris" },
    });
    expect(json.reward).toBe(1);
  });

  it("a missing template variable is a 200 with reward 0 and invalid_variable_error", async () => {
    const r = await client.fineTuning.alpha.graders.run({ grader: stringCheck, model_sample: "Paris", item: {} });
    expect(r.reward).toBe(0);
    expect(r.metadata.errors).toEqual({ ...NO_ERRORS, invalid_variable_error: true });
  });

  it("runs a multi grader and reports sub_rewards", async () => {
    const r = await client.fineTuning.alpha.graders.run({
      grader: {
        type: "multi",
        name: "m",
        graders: {
          exact: stringCheck,
          overlap: {
            type: "text_similarity",
            name: "o",
            input: "{{sample.output_text}}",
            reference: "Paris France",
            evaluation_metric: "rouge_1",
          },
        } as never,
        calculate_output: "0.5 * exact + 0.5 * overlap",
      },
      model_sample: "Paris",
      item: { answer: "Paris" },
    });
    expect(r.reward).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(r.sub_rewards).toEqual({ exact: 1, overlap: expect.closeTo(2 / 3, 12) });
  });

  it("runs a score_model grader against the configured endpoint, with token usage", async () => {
    const r = await client.fineTuning.alpha.graders.run({
      grader: {
        type: "score_model",
        name: "judge",
        model: "judge-model",
        input: [
          {
            role: "user",
            content: [
              {
                type: "input_text",
                text: "Reference: {{item.reference_answer}}\nModel answer: {{sample.output_text}}",
              },
            ],
          },
        ],
        sampling_params: { temperature: 1, top_p: 1, seed: 42 },
      },
      model_sample: "SCORE=0.9",
      item: { reference_answer: "fuzzy wuzzy was a bear" },
    });
    expect(r.reward).toBeCloseTo(0.9, 12);
    expect(r.metadata.sampled_model_name).toBe("judge-model-2026-01-01");
    expect(r.model_grader_token_usage_per_model).toHaveProperty(["judge-model-2026-01-01", "total_tokens"]);
    expect(chat.requests.at(-1)!.authorization).toBe("Bearer sk-grader-endpoint");
  });

  it("runs python graders in the sandbox; a hostile one is a 200 with reward 0 and the runtime flag", async () => {
    const ok = await client.fineTuning.alpha.graders.run({
      grader: {
        type: "python",
        name: "py",
        source: "def grade(sample, item):\n    return 1.0 if sample['output_text'] == item['label'] else 0.0\n",
      },
      model_sample: "yes",
      item: { label: "yes" },
    });
    expect(ok.reward).toBe(1);
    const hostile = await client.fineTuning.alpha.graders.run({
      grader: {
        type: "python",
        name: "py",
        source: "def grade(sample, item):\n    return len(open('/etc/passwd').read())\n",
      },
      model_sample: "yes",
    });
    expect(hostile.reward).toBe(0);
    expect(hostile.metadata.errors.python_grader_runtime_error).toBe(true);
    expect(hostile.metadata.errors.python_grader_runtime_error_details).toMatch(/FileNotFoundError/);
  });

  it("validate echoes the grader", async () => {
    const r = await client.fineTuning.alpha.graders.validate({
      grader: { input: "input", name: "name", operation: "eq", reference: "reference", type: "string_check" },
    });
    expect(r).toEqual({
      grader: { input: "input", name: "name", operation: "eq", reference: "reference", type: "string_check" },
    });
  });

  it("an invalid grader is a 400 naming the dotted field", async () => {
    const err = await badRequest(
      client.fineTuning.alpha.graders.validate({
        grader: {
          type: "multi",
          name: "m",
          graders: { a: { ...stringCheck, operation: "contains" } } as never,
          calculate_output: "a",
        },
      }),
    );
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({
      type: "invalid_request_error",
      param: "grader.graders.a.operation",
      code: "invalid_grader",
    });
    const formula = await badRequest(
      client.fineTuning.alpha.graders.run({
        grader: { type: "multi", name: "m", graders: { a: stringCheck } as never, calculate_output: "a / (b" },
        model_sample: "x",
      }),
    );
    expect(formula.error).toMatchObject({ param: "grader.calculate_output", code: "invalid_grader" });
    expect(formula.message).toMatch(/unknown variable 'b'/);
  });

  it("a missing model_sample is a 400 naming it", async () => {
    const err = await badRequest(client.fineTuning.alpha.graders.run({ grader: stringCheck } as never));
    expect(err.error).toMatchObject({ type: "invalid_request_error", param: "model_sample" });
  });

  it("needs an API key", async () => {
    const anon = new OpenAI({ apiKey: "sk-wrong-key-0000000000000000", baseURL: api.baseURL, maxRetries: 0 });
    await expect(anon.fineTuning.alpha.graders.validate({ grader: stringCheck })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });

  it("is documented in /openapi.json", async () => {
    const doc = (await (await fetch(`${api.origin}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.paths).toHaveProperty(["/v1/fine_tuning/alpha/graders/run"]);
    expect(doc.paths).toHaveProperty(["/v1/fine_tuning/alpha/graders/validate"]);
    expect(doc.components.schemas).toHaveProperty("RunGraderResponse");
    expect(doc.components.schemas).toHaveProperty("Grader");
  });
});
