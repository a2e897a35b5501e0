/**
 * Auth for every Files and Uploads route: no key → 401 `missing_api_key`, a wrong key → 401 `invalid_api_key`,
 * another project's key → 404 (its resources do not exist for it), all in the OpenAI envelope.
 */
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectApiError, expectEnvelope, rftJsonl } from "../files/fixtures.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let fileId: string;
let uploadId: string;
let partId: string;

beforeAll(async () => {
  server = await startServer();
  const file = await server.client.files.create({
    file: await toFile(Buffer.from(rftJsonl(3)), "t.jsonl"),
    purpose: "fine-tune",
  });
  fileId = file.id;
  const upload = await server.client.uploads.create({
    bytes: 3,
    filename: "u.jsonl",
    mime_type: "text/plain",
    purpose: "user_data",
  });
  uploadId = upload.id;
  partId = (await server.client.uploads.parts.create(uploadId, { data: await toFile(Buffer.from("abc"), "p") })).id;
});
afterAll(async () => {
  await server?.stop();
});

type Call = (client: OpenAI) => Promise<unknown>;

/** Each route, as the SDK calls it, and as a raw request (method, path, body) for the no-key case. */
const routes: {
  name: string;
  call: Call;
  raw: () => [string, string, BodyInit | undefined, Record<string, string>];
  owned: boolean;
}[] = [
  {
    name: "POST /files",
    call: async (c) =>
      c.files.create({ file: await toFile(Buffer.from(rftJsonl(1)), "t.jsonl"), purpose: "fine-tune" }),
    raw: () => {
      const form = new FormData();
      form.set("purpose", "fine-tune");
      form.set("file", new Blob([rftJsonl(1)]), "t.jsonl");
      return ["POST", "/files", form, {}];
    },
    owned: false,
  },
  { name: "GET /files", call: (c) => c.files.list(), raw: () => ["GET", "/files", undefined, {}], owned: false },
  {
    name: "GET /files/{id}",
    call: (c) => c.files.retrieve(fileId),
    raw: () => ["GET", `/files/${fileId}`, undefined, {}],
    owned: true,
  },
  {
    name: "GET /files/{id}/content",
    call: (c) => c.files.content(fileId),
    raw: () => ["GET", `/files/${fileId}/content`, undefined, {}],
    owned: true,
  },
  {
    name: "DELETE /files/{id}",
    call: (c) => c.files.delete(fileId),
    raw: () => ["DELETE", `/files/${fileId}`, undefined, {}],
    owned: true,
  },
  {
    name: "POST /uploads",
    call: (c) => c.uploads.create({ bytes: 1, filename: "x", mime_type: "text/plain", purpose: "user_data" }),
    raw: () => [
      "POST",
      "/uploads",
      JSON.stringify({ bytes: 1, filename: "x", mime_type: "text/plain", purpose: "user_data" }),
      { "content-type": "application/json" },
    ],
    owned: false,
  },
  {
    name: "POST /uploads/{id}/parts",
    call: async (c) => c.uploads.parts.create(uploadId, { data: await toFile(Buffer.from("x"), "p") }),
    raw: () => {
      const form = new FormData();
      form.set("data", new Blob(["x"]), "p");
      return ["POST", `/uploads/${uploadId}/parts`, form, {}];
    },
    owned: true,
  },
  {
    name: "POST /uploads/{id}/complete",
    call: (c) => c.uploads.complete(uploadId, { part_ids: [partId] }),
    raw: () => [
      "POST",
      `/uploads/${uploadId}/complete`,
      JSON.stringify({ part_ids: [partId] }),
      { "content-type": "application/json" },
    ],
    owned: true,
  },
  {
    name: "POST /uploads/{id}/cancel",
    call: (c) => c.uploads.cancel(uploadId),
    raw: () => ["POST", `/uploads/${uploadId}/cancel`, undefined, {}],
    owned: true,
  },
];

describe.each(routes)("$name", (route) => {
  it("without a key: 401 missing_api_key", async () => {
    const [method, path, body, headers] = route.raw();
    const response = await fetch(`${server.baseURL}${path}`, { method, body: body ?? null, headers });
    await expectEnvelope(response, 401, {
      message: /^You didn't provide an API key\./,
      param: null,
      code: "missing_api_key",
    });
  });

  it("with a wrong key: 401 invalid_api_key", async () => {
    const wrong = new OpenAI({ apiKey: "sk-rft-wrong-key-0000000000", baseURL: server.baseURL, maxRetries: 0 });
    await expectApiError(() => route.call(wrong), 401, {
      message: /^Incorrect API key provided: /,
      param: null,
      code: "invalid_api_key",
    });
  });

  it.runIf(route.owned)("with another project's key: 404", async () => {
    const other = await server.newTenant();
    const [kind, id] = route.name.includes("uploads") ? ["Upload", uploadId] : ["File", fileId];
    await expectApiError(() => route.call(other.client), 404, {
      message: `No such ${kind} object: ${id}`,
      param: "id",
      code: "not_found",
    });
  });
});

it("another project sees none of this project's files", async () => {
  const other = await server.newTenant();
  const page = await other.client.files.list();
  expect(page.data).toEqual([]);
  // And the owner still has everything the 404s above did not touch.
  expect((await server.client.files.retrieve(fileId)).id).toBe(fileId);
});
