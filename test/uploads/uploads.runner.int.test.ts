/**
 * A training file that an upload made is kept as its part objects: the runner must still download it as one file,
 * through its signed object URL, and a run must not be able to read other objects by naming a part.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { files, jobs } from "../../db/schema/index.ts";
import { createDispatcher } from "../../workers/dispatcher.ts";
import { type RunnerServer, recordingBackend, seedJob, startRunnerServer } from "../runner/harness.ts";

let server: RunnerServer;

beforeAll(async () => {
  server = await startRunnerServer();
});
afterAll(async () => {
  await server?.stop();
});

it("serves a file made of upload parts to the runner as one file", async () => {
  const { db, store } = server.deps;
  const seeded = await seedJob(server.deps);
  const lines = Array.from({ length: 600 }, (_, i) =>
    JSON.stringify({ messages: [{ role: "user", content: `What is ${i} + 1?` }], answer: String(i + 1) }),
  );
  const text = `${lines.join("\n")}\n`;
  const cut = [0, 7_000, 7_001, 20_000, text.length];
  const parts = [];
  for (let i = 0; i + 1 < cut.length; i++) {
    const key = `uploads/${seeded.projectId}/upload_x/part_${i}`;
    const put = await store.put(key, new Blob([text.slice(cut[i], cut[i + 1])]).stream());
    parts.push({ key, bytes: put.bytes });
  }
  const fileId = "file-composite-0001";
  await db.insert(files).values({
    id: fileId,
    projectId: seeded.projectId,
    filename: "big.jsonl",
    purpose: "fine-tune",
    bytes: Buffer.byteLength(text),
    objectKey: `files/${seeded.projectId}/${fileId}`,
    parts,
    status: "processed",
  });
  await db.update(jobs).set({ trainingFile: fileId }).where(eq(jobs.id, seeded.jobId));

  const { backend, launches } = recordingBackend();
  const dispatched = await createDispatcher({ db, backend, apiBaseUrl: server.origin }).dispatch(seeded.jobId);
  expect(dispatched.kind).toBe("launched");
  const token = launches.at(-1)?.token as string;
  const spec = (await (
    await fetch(`${server.origin}/runner/v1/spec`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as { training_file: { url: string; bytes: number } };
  expect(spec.training_file.bytes).toBe(Buffer.byteLength(text));
  const download = await fetch(spec.training_file.url);
  expect(download.status).toBe(200);
  expect(download.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
  expect(await download.text()).toBe(text);

  // The URL is signed for the file's key; naming one of its parts instead is refused.
  const url = new URL(spec.training_file.url);
  url.pathname = url.pathname.replace(/objects\/.*$/, `objects/${parts[1]?.key}`);
  expect((await fetch(url)).status).toBe(403);
});
