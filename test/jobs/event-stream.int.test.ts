/**
 * The live event stream (GET /fine_tuning/jobs/{id}/events/stream) through our SDK's `streamEvents`, against the real
 * API: it ends after a finished job's last event, resumes after a given event, throws at once on a client error (no
 * retry), and gives up after its retries when the API cannot be reached. Its reconnect across an API restart in the
 * middle of a job is in e2e.int.test.ts.
 */
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RftClient } from "../../sdk/client.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { registerStubModel, rftLines, stringCheck, uploadDataset } from "./fixtures.ts";

let server: TestServer;
let model: string;
let trainId: string;

beforeAll(async () => {
  server = await startServer({ RFT_WORKERS: "0" });
  model = await registerStubModel(server);
  trainId = (await uploadDataset(server, rftLines(10))).id;
});
afterAll(async () => server?.stop());

async function cancelledJob() {
  const job = await server.client.fineTuning.jobs.create({
    model,
    training_file: trainId,
    method: { type: "reinforcement", reinforcement: { grader: stringCheck } },
  });
  await server.client.fineTuning.jobs.cancel(job.id);
  return job;
}

async function all<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe("the live event stream through RftClient.streamEvents", () => {
  it("sends a finished job's events oldest first, then ends; `after` resumes past a given event", async () => {
    const job = await cancelledJob();
    const rft = new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey });
    const seen = await all(rft.streamEvents(job.id));
    const stored = [];
    for await (const e of server.client.fineTuning.jobs.listEvents(job.id)) stored.push(e.id);
    expect(seen.map((e) => e.id)).toEqual(stored.reverse());
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)!.message).toBe("Job cancelled by the user");

    const rest = await all(rft.streamEvents(job.id, seen[0]!.id));
    expect(rest.map((e) => e.id)).toEqual(seen.slice(1).map((e) => e.id));
  });

  it("throws at once, without retrying, on an unknown job or another tenant's", async () => {
    const job = await cancelledJob();
    const other = await server.newTenant("stream-other");
    // A retry would wait a minute first, past the test's timeout.
    const options = { retries: 5, retryMs: 60_000 };
    const mine = new RftClient({ baseURL: server.baseURL, apiKey: server.apiKey });
    await expect(all(mine.streamEvents("ftjob-doesnotexist", undefined, options))).rejects.toThrow(/HTTP 404/);
    const theirs = new RftClient({ baseURL: server.baseURL, apiKey: other.apiKey });
    await expect(all(theirs.streamEvents(job.id, undefined, options))).rejects.toThrow(/HTTP 404/);
    const badKey = new RftClient({ baseURL: server.baseURL, apiKey: "sk-wrong" });
    await expect(all(badKey.streamEvents(job.id, undefined, options))).rejects.toThrow(/HTTP 401/);
  });

  it("gives up with the connection error after its retries when the API cannot be reached", async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const rft = new RftClient({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: server.apiKey });
    await expect(all(rft.streamEvents("ftjob-any", undefined, { retries: 2, retryMs: 10 }))).rejects.toThrow(
      /fetch failed/,
    );
  });
});
