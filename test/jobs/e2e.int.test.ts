/**
 * The product as a user meets it, nothing faked: the official `openai` SDK against the real API with its workers,
 * the local runner backend starting the supervisor, which drives the real PyTorch engine (CPU) on the tiny model.
 * Upload, create a reinforcement job, watch its events live, succeed, list checkpoints, download the ONNX export
 * and decode it in onnxruntime-node; then a second job that starts from the fine-tuned model; then cancel, pause
 * (the runner checkpoints and exits; resume continues in a new run) and an API restart in the middle of a job.
 * Needs the Python environment (`.venv`); skipped without it.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { greedyDecode, loadOnnxDecoder } from "../../gpu-runner/onnx/decode.ts";
import { hasEnginePython } from "../../gpu-runner/supervisor/python.ts";
import { RftClient } from "../../sdk/client.ts";
import { createLocalBackend, type LocalBackend } from "../../workers/backends/local.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { type TinyFixture, tinyFixture } from "../supervisor/fixture.ts";
import { stringCheck, uploadDataset } from "./fixtures.ts";

const hasPython = hasEnginePython();

const lines = (file: string, n: number, skip = 0) =>
  `${readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(skip, skip + n)
    .join("\n")}\n`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let fx: TinyFixture;
let backend: LocalBackend;

function boot(dataDir: string, port: number) {
  backend = createLocalBackend({
    dataDir,
    env: { RFT_DEVICE: "cpu", RFT_DTYPE: "float32", RFT_ENGINE_THREADS: "1" },
    // The default of the Node entry: runs go to a warm runner (engine up) and the next one starts behind it.
    warmRunners: 1,
  });
  return startServer(
    {
      RFT_DATA_DIR: dataDir,
      PORT: String(port),
      RFT_BASE_MODEL_DIR: fx.model,
      RFT_QUEUE_POLL_MS: "50",
      RFT_HEARTBEAT_TIMEOUT_MS: "60000",
    },
    { services: { backend, workerOptions: { reaperIntervalMs: 500, log: () => {} } } },
  );
}

const hyperparameters = {
  n_epochs: 1,
  batch_size: 2,
  group_size: 4,
  max_completion_tokens: 5,
  eval_interval: 2,
  checkpoint_interval: 2,
  lora_rank: 4,
};

describe.skipIf(!hasPython)("a reinforcement job end to end through the openai SDK", () => {
  let server: TestServer;
  let dataDir: string;
  let port: number;
  let model: string;

  beforeAll(async () => {
    fx = await tinyFixture();
    model = basename(fx.model);
    dataDir = mkdtempSync(join(tmpdir(), "rft-e2e-"));
    port = await freePort();
    server = await boot(dataDir, port);
  }, 600_000);
  afterAll(async () => server?.stop());

  /** Uploads `n` training lines (from `skip`) and starts an RL job that evaluates only at its end; waits for step 1. */
  async function jobAtFirstStep(n: number, skip: number, name: string, extra: Record<string, number> = {}) {
    const train = await uploadDataset(server, lines(fx.train, n, skip), name);
    const job = await server.client.fineTuning.jobs.create({
      model,
      training_file: train.id,
      method: {
        type: "reinforcement",
        reinforcement: { grader: stringCheck, hyperparameters: { ...hyperparameters, eval_interval: 100, ...extra } },
      },
    });
    const rft = new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey });
    for await (const e of rft.streamEvents(job.id)) if (e.type === "metrics") break;
    return job;
  }

  it("trains, reports live, checkpoints, and hands back an ONNX model that decodes in onnxruntime-node", async () => {
    const train = await uploadDataset(server, lines(fx.train, 8), "train.jsonl");
    const valid = await uploadDataset(server, lines(fx.valid, 4), "valid.jsonl");
    const job = await server.client.fineTuning.jobs.create({
      model,
      training_file: train.id,
      validation_file: valid.id,
      suffix: "e2e",
      seed: 7,
      method: { type: "reinforcement", reinforcement: { grader: stringCheck, hyperparameters } },
    });

    const rft = new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey });
    const seen = [];
    for await (const event of rft.streamEvents(job.id)) seen.push(event);
    const done = await server.client.fineTuning.jobs.retrieve(job.id);
    expect(done.status, JSON.stringify(seen.filter((e) => e.level !== "info"))).toBe("succeeded");
    expect(done.fine_tuned_model).toMatch(new RegExp(`^ft:${model}:.+:e2e:`));
    expect(done.finished_at).toBeGreaterThan(0);

    // The live stream saw every state and one metrics event per step, in order.
    const statuses = seen.flatMap((e) => (e.type === "message" && e.data?.status ? [e.data.status] : []));
    expect(statuses).toEqual(expect.arrayContaining(["validating_files", "queued", "running", "succeeded"]));
    const steps = seen.filter((e) => e.type === "metrics").map((e) => Number(e.data?.step));
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(Math.max(...steps)).toBe(4);
    const last = seen.filter((e) => e.type === "metrics").at(-1)!;
    const scores = last.data?.scores as { train_reward_mean?: number } | undefined;
    expect(typeof scores?.train_reward_mean).toBe("number");

    // The SDK's paginated listing holds the same events, newest first.
    const listed = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(job.id, { limit: 5 })) listed.push(e.id);
    expect(new Set(listed)).toEqual(new Set(seen.map((e) => e.id)));

    const ckpts = (await server.client.fineTuning.jobs.checkpoints.list(job.id)).data;
    expect(ckpts.map((c) => c.step_number)).toEqual([4, 2]);
    expect(ckpts[0]!.fine_tuned_model_checkpoint).toMatch(/:ckpt-step-4$/);

    const files = await rft.checkpointFiles(ckpts[0]!.id);
    const names = files.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(["merged/config.json", "merged/model.safetensors", "adapter/adapter_model.safetensors"]),
    );
    expect(names.some((n) => n.startsWith("onnx/") && n.endsWith("model.onnx"))).toBe(true);

    const out = mkdtempSync(join(tmpdir(), "rft-e2e-ckpt-"));
    await rft.downloadCheckpoint(ckpts[0]!.id, out, { only: /^onnx\// });
    const { session, config } = await loadOnnxDecoder(join(out, "onnx"));
    const tokenizer = JSON.parse(readFileSync(join(out, "onnx", "tokenizer.json"), "utf8")) as {
      model: { vocab: Record<string, number> };
    };
    const vocab = tokenizer.model.vocab;
    const prompt = ["4", "7", "+", "3", "8"].map((t) => vocab[t]).filter((id): id is number => id !== undefined);
    const ids = await greedyDecode(session, config, prompt, 4);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id >= 0 && id < config.vocab_size)).toBe(true);

    // The fine-tuned model is listed and a new job can start from it (SFT or RL on top of RL).
    const models = (await server.client.models.list()).data.map((m) => m.id);
    expect(models).toContain(done.fine_tuned_model);
    const next = await server.client.fineTuning.jobs.create({
      model: done.fine_tuned_model!,
      training_file: train.id,
      method: {
        type: "reinforcement",
        reinforcement: { grader: stringCheck, hyperparameters: { ...hyperparameters, eval_interval: 10 } },
      },
    });
    for await (const _ of rft.streamEvents(next.id)) {
      // wait for the end
    }
    const second = await server.client.fineTuning.jobs.retrieve(next.id);
    expect(second.status).toBe("succeeded");
  }, 600_000);

  it("cancel reaches a running runner within seconds: its run ends, training stops early, the job stays cancelled", async () => {
    // 64 lines in batches of 2 for 3 epochs: 96 planned steps, far more than can run in the seconds a cancel takes.
    const planned = 96;
    const job = await jobAtFirstStep(64, 0, "train3.jsonl", { n_epochs: 3 });
    const metricsCount = async () => {
      let n = 0;
      for await (const e of server.client.fineTuning.jobs.listEvents(job.id)) if (e.type === "metrics") n++;
      return n;
    };
    const cancelled = await server.client.fineTuning.jobs.cancel(job.id);
    expect(cancelled.status).toBe("cancelled");
    const cancelledAt = Date.now();
    const atCancel = await metricsCount();
    // The runner learns it from its next heartbeat and stops; its run is ended.
    const { runs } = await import("../../db/schema/index.ts");
    const { eq } = await import("drizzle-orm");
    for (;;) {
      const rows = await server.runtime.deps.db.select().from(runs).where(eq(runs.jobId, job.id));
      if (rows.every((r) => r.status === "ended")) break;
      expect(Date.now() - cancelledAt).toBeLessThan(15_000);
      await new Promise((r) => setTimeout(r, 250));
    }
    // The runner reuses a heartbeat answer for up to 1 s between fast steps, so a few short steps may still report
    // after the cancel; most of the planned steps never run.
    const atEnd = await metricsCount();
    expect(atEnd).toBeGreaterThanOrEqual(atCancel);
    expect(atEnd - atCancel).toBeLessThanOrEqual(20);
    expect(atEnd).toBeLessThan(planned / 2);
    expect((await server.client.fineTuning.jobs.retrieve(job.id)).status).toBe("cancelled");
  }, 600_000);

  /** The job's runs, straight from the database (the API does not list runs). */
  async function runsOf(jobId: string) {
    const { runs } = await import("../../db/schema/index.ts");
    const { eq } = await import("drizzle-orm");
    return server.runtime.deps.db.select().from(runs).where(eq(runs.jobId, jobId));
  }
  async function untilRunsEnded(jobId: string) {
    while (!(await runsOf(jobId)).every((r) => r.status === "ended")) await new Promise((r) => setTimeout(r, 200));
  }
  async function messagesOf(jobId: string) {
    const out: string[] = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(jobId)) out.push(e.message);
    return out;
  }

  it("pause checkpoints and frees the machine; resume continues from that step in a new run and succeeds", async () => {
    // 32 steps: the pause lands within about a second (the runner's heartbeat gap) plus a step, long before the end.
    const created = await jobAtFirstStep(64, 0, "train4.jsonl", { checkpoint_interval: 8 });
    expect((await server.client.fineTuning.jobs.pause(created.id)).status).toBe("paused");
    // The runner finishes its step, saves and registers a checkpoint, reports, and exits: its run ends.
    await untilRunsEnded(created.id);
    const [first] = await runsOf(created.id);
    // Its process (supervisor and engine) exits: the machine is free.
    while ((await backend.inspect(first!.backendRef!)) !== "exited") await new Promise((r) => setTimeout(r, 100));
    expect((await server.client.fineTuning.jobs.retrieve(created.id)).status).toBe("paused");
    const atPause = await messagesOf(created.id);
    const said = atPause
      .map((m) =>
        /^paused after step (\d+) of 32 \((checkpoint saved at step \d+|its checkpoint was already saved)\)/.exec(m),
      )
      .find(Boolean);
    expect(said, atPause.join("\n")).toBeTruthy();
    const pausedAt = Number(said![1]);
    expect(atPause.some((m) => m.startsWith(`Runner stopped after step ${pausedAt} and freed its machine`))).toBe(true);
    const ckptsAtPause = (await server.client.fineTuning.jobs.checkpoints.list(created.id)).data;
    expect(ckptsAtPause[0]!.step_number).toBe(pausedAt);

    expect((await server.client.fineTuning.jobs.resume(created.id)).status).toBe("queued");
    for await (const _ of new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey }).streamEvents(created.id)) {
      // until the job ends
    }
    const done = await server.client.fineTuning.jobs.retrieve(created.id);
    expect(done.status).toBe("succeeded");
    expect((await runsOf(created.id)).length).toBe(2);
    const messages = await messagesOf(created.id);
    expect(messages.some((m) => m.includes(`run resumed from step ${pausedAt}:`))).toBe(true);
    // Every step reported once, the first run's up to the pause and the new run's after it.
    const steps: number[] = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(created.id))
      if (e.type === "metrics") steps.push(Number((e.data as { step?: number } | null)?.step));
    expect(steps.sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    const ckpts: number[] = [];
    for await (const c of server.client.fineTuning.jobs.checkpoints.list(created.id)) ckpts.push(c.step_number);
    expect(ckpts[0]).toBe(32);
    expect(ckpts).toContain(pausedAt);
    // Checkpoints after the pause continue on the job's interval (8).
    expect(ckpts.filter((s) => s > pausedAt && s < 32)).toEqual([24, 16, 8].filter((s) => s > pausedAt));
  }, 600_000);

  it("a paused job, its runner gone, cancels", async () => {
    const created = await jobAtFirstStep(16, 0, "train5.jsonl");
    await server.client.fineTuning.jobs.pause(created.id);
    await untilRunsEnded(created.id);
    expect((await server.client.fineTuning.jobs.cancel(created.id)).status).toBe("cancelled");
    expect((await server.client.fineTuning.jobs.retrieve(created.id)).status).toBe("cancelled");
    expect((await messagesOf(created.id))[0]).toBe("Job cancelled by the user");
    expect((await runsOf(created.id)).length).toBe(1);
  }, 600_000);

  it("survives an API restart in the middle of a job, and so does a client's live event stream", async () => {
    // The stream is open from the job's start. At the first step's metrics, stop the API (its runner keeps going and
    // retries its calls; the stream's connection is cut), then start it again on the same port: the stream reconnects
    // after the last event it yielded and runs to the job's end.
    const train = await uploadDataset(server, lines(fx.train, 12, 20), "train2.jsonl");
    const job = await server.client.fineTuning.jobs.create({
      model,
      training_file: train.id,
      method: {
        type: "reinforcement",
        reinforcement: { grader: stringCheck, hyperparameters: { ...hyperparameters, eval_interval: 100 } },
      },
    });
    const seen: string[] = [];
    let restarted = false;
    for await (const e of new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey }).streamEvents(job.id)) {
      seen.push(e.id);
      if (e.type === "metrics" && !restarted) {
        restarted = true;
        await server.stop();
        server = await boot(dataDir, port);
      }
    }
    expect(restarted).toBe(true);
    const done = await server.client.fineTuning.jobs.retrieve(job.id);
    expect(done.status).toBe("succeeded");
    const steps = [];
    const stored: string[] = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(job.id)) {
      stored.push(e.id);
      if (e.type === "metrics") steps.push((e.data as { step?: number } | null)?.step);
    }
    expect(steps.sort((a, b) => Number(a) - Number(b))).toEqual([1, 2, 3, 4, 5, 6]);
    // Every stored event reached the stream once, in order: none lost or repeated across the reconnect.
    expect(seen).toEqual(stored.reverse());
  }, 600_000);
});
