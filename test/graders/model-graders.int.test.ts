/**
 * score_model / label_model / cosine through the OpenAI-compatible HTTP adapters, against fake-chat-server (a real
 * HTTP server on 127.0.0.1 with scripted answers; its limits are stated in fake-chat-server.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Grader,
  type GraderContext,
  gradeBatch,
  type LabelModelGrader,
  openAICompatibleChat,
  openAICompatibleEmbeddings,
  runGrader,
  type ScoreModelGrader,
  sampleFromText,
} from "../../graders/index.ts";
import { type FakeChatServer, startFakeChatServer } from "./fake-chat-server.ts";
import { NO_ERRORS } from "./helpers.ts";

let server: FakeChatServer;
let ctx: GraderContext;

beforeAll(async () => {
  server = await startFakeChatServer();
  ctx = {
    chat: openAICompatibleChat({
      baseURL: server.baseURL,
      apiKey: "sk-grader",
      timeoutMs: 1_000,
      maxRetries: 3,
      backoffMs: 10,
    }),
    embeddings: openAICompatibleEmbeddings({ baseURL: server.baseURL, apiKey: "sk-grader" }),
    embeddingModel: "text-embedding-3-large",
  };
});
afterAll(() => server?.stop());

const scoreModel = (model: string, extra: Partial<ScoreModelGrader> = {}): ScoreModelGrader => ({
  type: "score_model",
  name: "judge",
  model,
  input: [
    { role: "system", content: "You grade answers." },
    {
      role: "user",
      content: [{ type: "input_text", text: "Reference: {{item.ref}}\nAnswer: {{sample.output_text}}" }],
    },
  ],
  ...extra,
});
const labelModel = (model: string): LabelModelGrader => ({
  type: "label_model",
  name: "sentiment",
  model,
  input: [
    { type: "message", role: "user", content: { type: "input_text", text: "Statement: {{sample.output_text}}" } },
  ],
  labels: ["positive", "neutral", "negative"],
  passing_labels: ["positive"],
});

describe("score_model over HTTP", () => {
  it("sends rendered messages, structured output and sampling params; returns reward, usage and model", async () => {
    server.requests.length = 0;
    const g = scoreModel("judge-1", {
      sampling_params: { temperature: 0.5, top_p: 0.9, seed: 42, max_completions_tokens: 64, reasoning_effort: "low" },
    });
    const r = await runGrader(g, { sample: sampleFromText("SCORE=0.8"), item: { ref: "x" } }, ctx);
    expect(r.reward).toBeCloseTo(0.8, 12);
    expect(r.metadata).toMatchObject({
      type: "score_model",
      errors: NO_ERRORS,
      sampled_model_name: "judge-1-2026-01-01",
      scores: { result: 0.8 },
    });
    expect(r.metadata.token_usage).toMatchObject({
      prompt_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
      cached_tokens: 0,
    });
    expect(r.model_grader_token_usage_per_model["judge-1-2026-01-01"]).toEqual(r.metadata.token_usage);
    const sent = server.requests[0]!;
    expect(sent.authorization).toBe("Bearer sk-grader");
    expect(sent.body).toMatchObject({
      model: "judge-1",
      messages: [
        { role: "system", content: "You grade answers." },
        { role: "user", content: "Reference: x\nAnswer: SCORE=0.8" },
      ],
      temperature: 0.5,
      top_p: 0.9,
      seed: 42,
      max_completion_tokens: 64,
      reasoning_effort: "low",
      response_format: {
        type: "json_schema",
        json_schema: { strict: true, schema: { required: ["steps", "result"] } },
      },
    });
  });

  it("clamps to range", async () => {
    const r = await runGrader(
      scoreModel("judge", { range: [0, 10] }),
      { sample: sampleFromText("SCORE=12"), item: { ref: "x" } },
      ctx,
    );
    expect(r.reward).toBe(10);
    const low = await runGrader(scoreModel("judge"), { sample: sampleFromText("SCORE=-3"), item: { ref: "x" } }, ctx);
    expect(low.reward).toBe(0);
  });

  it("retries 429 and 5xx with backoff, then succeeds", async () => {
    const r = await runGrader(
      scoreModel("fail-2-503"),
      { sample: sampleFromText("SCORE=0.5"), item: { ref: "a" } },
      ctx,
    );
    expect(r.reward).toBe(0.5);
    const r2 = await runGrader(
      scoreModel("fail-1-429"),
      { sample: sampleFromText("SCORE=0.25"), item: { ref: "a" } },
      ctx,
    );
    expect(r2.reward).toBe(0.25);
  });

  it("gives up after the retries with model_grader_server_error and details", async () => {
    const r = await runGrader(
      scoreModel("fail-9-500"),
      { sample: sampleFromText("SCORE=0.5"), item: { ref: "b" } },
      ctx,
    );
    expect(r.reward).toBe(0);
    expect(r.metadata.errors).toEqual({
      ...NO_ERRORS,
      model_grader_server_error: true,
      model_grader_server_error_details: expect.stringMatching(/500 .*after 4 attempts/),
    });
  });

  it("does not retry a 400", async () => {
    server.requests.length = 0;
    const r = await runGrader(
      scoreModel("fail-9-400"),
      { sample: sampleFromText("SCORE=0.5"), item: { ref: "c" } },
      ctx,
    );
    expect(r.metadata.error).toMatchObject({ code: "model_server" });
    expect(server.requests.length).toBe(1);
  });

  it("times out a slow endpoint per attempt", async () => {
    const quick = {
      chat: openAICompatibleChat({ baseURL: server.baseURL, timeoutMs: 100, maxRetries: 1, backoffMs: 10 }),
    };
    const t0 = Date.now();
    const r = await runGrader(
      scoreModel("slow-2000"),
      { sample: sampleFromText("SCORE=1"), item: { ref: "x" } },
      quick,
    );
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(r.metadata.error).toMatchObject({ code: "timeout" });
    expect(r.metadata.errors.unresponsive_reward_error).toBe(true);
  });

  it("flags refusals and unparsable answers, keeping the token usage", async () => {
    const refused = await runGrader(scoreModel("refuse"), { sample: sampleFromText("x"), item: { ref: "x" } }, ctx);
    expect(refused.metadata.errors).toEqual({ ...NO_ERRORS, model_grader_refusal_error: true });
    expect(refused.metadata.token_usage).not.toBeNull();
    const garbage = await runGrader(scoreModel("garbage"), { sample: sampleFromText("x"), item: { ref: "x" } }, ctx);
    expect(garbage.reward).toBe(0);
    expect(garbage.metadata.errors).toEqual({ ...NO_ERRORS, model_grader_parse_error: true });
  });

  it("an unreachable endpoint is a server error, not a throw", async () => {
    const dead = { chat: openAICompatibleChat({ baseURL: "http://127.0.0.1:1/v1", maxRetries: 1, backoffMs: 10 }) };
    const r = await runGrader(scoreModel("x"), { sample: sampleFromText("x"), item: { ref: "x" } }, dead);
    expect(r.metadata.error).toMatchObject({ code: "model_server", message: expect.stringMatching(/unreachable/) });
  });
});

describe("label_model over HTTP", () => {
  it("rewards passing labels with 1 and others with 0", async () => {
    const pass = await runGrader(labelModel("judge"), { sample: sampleFromText("LABEL=positive") }, ctx);
    expect(pass.reward).toBe(1);
    expect(pass.metadata.scores).toEqual({ label: "positive" });
    const fail = await runGrader(labelModel("judge"), { sample: sampleFromText("LABEL=negative") }, ctx);
    expect(fail.reward).toBe(0);
    expect(fail.metadata.errors).toEqual(NO_ERRORS);
    expect(server.requests.at(-1)!.body.response_format).toMatchObject({
      json_schema: { schema: { properties: { result: { enum: ["positive", "neutral", "negative"] } } } },
    });
  });

  it("an answer outside the labels is a parse error", async () => {
    const r = await runGrader(labelModel("judge"), { sample: sampleFromText("LABEL=ecstatic") }, ctx);
    expect(r.metadata.errors).toEqual({ ...NO_ERRORS, model_grader_parse_error: true });
  });
});

describe("cosine over HTTP and batches", () => {
  it("computes cosine of the endpoint's embeddings", async () => {
    const g = {
      type: "text_similarity",
      name: "cos",
      input: "{{sample.output_text}}",
      reference: "ab",
      evaluation_metric: "cosine",
    } as const;
    const r = await runGrader(g, { sample: sampleFromText("aabb") }, ctx);
    expect(r.reward).toBeCloseTo(1, 12);
    const r2 = await runGrader(g, { sample: sampleFromText("a") }, ctx);
    expect(r2.reward).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it("a multi grader sums token usage per model", async () => {
    const g = {
      type: "multi",
      name: "both",
      graders: { s: scoreModel("judge"), l: labelModel("judge") },
      calculate_output: "(s + l) / 2",
    } satisfies Grader;
    const r = await runGrader(g, { sample: sampleFromText("SCORE=0.5 LABEL=positive"), item: { ref: "x" } }, ctx);
    expect(r.metadata.error).toBeNull();
    expect(r.reward).toBeCloseTo(0.75, 12);
    expect(r.sub_rewards).toEqual({ s: 0.5, l: 1 });
    const usage = r.model_grader_token_usage_per_model["judge-2026-01-01"]!;
    expect(usage.total_tokens).toBe(r.metadata.token_usage!.total_tokens);
  });

  it("gradeBatch bounds concurrent requests to the endpoint", async () => {
    const slowCtx = { chat: openAICompatibleChat({ baseURL: server.baseURL, timeoutMs: 5_000 }) };
    const inputs = Array.from({ length: 24 }, (_, i) => ({
      sample: sampleFromText(`SCORE=${i / 100}`),
      item: { ref: "x" },
    }));
    const rs = await gradeBatch(scoreModel("slow-50"), inputs, slowCtx, { concurrency: { score_model: 4 } });
    expect(rs.map((r) => r.reward)).toEqual(inputs.map((_, i) => i / 100));
    expect(server.peakConcurrency("slow-50")).toBe(4);
  });
});
