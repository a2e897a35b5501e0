/**
 * Base models named on the Hugging Face Hub (`RFT_HUB_MODELS`): listed and retrievable through the `openai` SDK,
 * usable as a job's model, and handed to the runner as a Hub id to fetch itself (no files in the store). The engine
 * side, loading such an id from the HF cache, is gpu-runner/trainer/tests/test_protocol.py.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectApiError } from "../files/fixtures.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { recordingBackend } from "../runner/harness.ts";
import { rftLines, stringCheck, uploadDataset } from "./fixtures.ts";

const HUB_ID = "rft-test/tiny-arith";
let server: TestServer;
const recorder = recordingBackend();

beforeAll(async () => {
  server = await startServer(
    { RFT_HUB_MODELS: `${HUB_ID}, rft-test/other-model` },
    { services: { backend: recorder.backend, workerOptions: { pollMs: 50 } } },
  );
});
afterAll(async () => {
  await server?.stop();
});

it("lists Hub models, runs a job on one, and gives the runner the Hub id instead of files", async () => {
  const ids = [];
  for await (const m of server.client.models.list()) ids.push(m.id);
  expect(ids).toEqual(expect.arrayContaining([HUB_ID, "rft-test/other-model"]));
  expect(await server.client.models.retrieve(HUB_ID)).toMatchObject({ id: HUB_ID, owned_by: "huggingface" });

  const file = await uploadDataset(server, rftLines(8));
  const job = await server.client.fineTuning.jobs.create({
    model: HUB_ID,
    training_file: file.id,
    method: { type: "reinforcement", reinforcement: { grader: stringCheck } },
  });
  await expect.poll(() => recorder.launches.length, { timeout: 30_000 }).toBeGreaterThan(0);
  const launch = recorder.launches.at(-1);
  expect(launch?.jobId).toBe(job.id);
  const spec = (await (
    await fetch(`${server.origin}/runner/v1/spec`, { headers: { authorization: `Bearer ${launch?.token}` } })
  ).json()) as { model: { id: string; hub: string | null; files: unknown[] } };
  expect(spec.model).toMatchObject({ id: HUB_ID, hub: HUB_ID, files: [] });
});

it("refuses a malformed Hub id in the environment, naming the variable", async () => {
  await expect(startServer({ RFT_HUB_MODELS: "not a repo id" })).rejects.toThrow(/RFT_HUB_MODELS/);
  await expectApiError(() => server.client.models.retrieve("rft-test/unknown"), 404, {
    param: "model",
    code: "not_found",
  });
});
