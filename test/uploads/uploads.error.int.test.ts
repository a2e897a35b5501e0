/** Uploads API failures, each asserting the whole envelope. */
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectApiError, expectEnvelope, storeKeys } from "../files/fixtures.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const MIB = 1024 * 1024;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ RFT_MAX_UPLOAD_BYTES: String(64 * MIB), RFT_MAX_PART_BYTES: String(MIB) });
});
afterAll(async () => {
  await server?.stop();
});

const create = (bytes: number) =>
  server.client.uploads.create({ bytes, filename: "t.jsonl", mime_type: "application/jsonl", purpose: "fine-tune" });
const addPart = async (uploadId: string, data: Buffer | string) =>
  server.client.uploads.parts.create(uploadId, { data: await toFile(Buffer.from(data), "part") });

describe("creating an upload", () => {
  it("rejects too many bytes, missing fields, unknown purposes and unknown fields", async () => {
    await expectApiError(() => create(64 * MIB + 1), 400, {
      message: `Invalid value for 'bytes': an upload can be at most ${64 * MIB} bytes; got ${64 * MIB + 1}.`,
      param: "bytes",
      code: "invalid_value",
    });
    await expectApiError(() => create(0), 400, {
      message: /^Invalid value for 'bytes': /,
      param: "bytes",
      code: "invalid_value",
    });
    await expectApiError(
      () => server.client.uploads.create({ bytes: 10, mime_type: "text/plain", purpose: "fine-tune" } as never),
      400,
      { message: /^Invalid value for 'filename': /, param: "filename", code: "invalid_value" },
    );
    await expectApiError(
      () =>
        server.client.uploads.create({
          bytes: 10,
          filename: "x",
          mime_type: "text/plain",
          purpose: "training" as never,
        }),
      400,
      { message: /^Invalid value for 'purpose': /, param: "purpose", code: "invalid_value" },
    );
    await expectApiError(
      () =>
        server.client.uploads.create({
          bytes: 10,
          filename: "x",
          mime_type: "text/plain",
          purpose: "batch",
          size: 1,
        } as never),
      400,
      { message: /^Invalid value for the request body: /, param: null, code: "invalid_value" },
    );
  });
});

describe("adding parts", () => {
  it("rejects a part over the limit, a body without data, an unknown field and malformed multipart", async () => {
    const upload = await create(10);
    await expectApiError(() => addPart(upload.id, Buffer.alloc(MIB + 1, 0x61)), 400, {
      message: `The 'data' is larger than the limit of ${MIB} bytes.`,
      param: "data",
      code: "file_too_large",
    });
    await expectApiError(() => addPart(upload.id, ""), 400, {
      message: "The part is empty.",
      param: "data",
      code: "invalid_value",
    });
    const url = `${server.baseURL}/uploads/${upload.id}/parts`;
    const auth = { authorization: `Bearer ${server.apiKey}` };
    const form = new FormData();
    form.set("other", "x");
    await expectEnvelope(await fetch(url, { method: "POST", headers: auth, body: form }), 400, {
      message: "Unknown parameter: 'other'.",
      param: "other",
      code: "unknown_parameter",
    });
    const empty = new FormData();
    empty.set("data", new Blob(["abc"]));
    empty.delete("data");
    await expectEnvelope(await fetch(url, { method: "POST", headers: auth, body: empty }), 400, {
      message: "Missing required parameter: 'data'.",
      param: "data",
      code: "missing_required_parameter",
    });
    await expectEnvelope(
      await fetch(url, {
        method: "POST",
        headers: { ...auth, "content-type": "multipart/form-data; boundary=B" },
        body: '--B\r\nContent-Disposition: form-data; name="data"; filename="x"\r\n\r\nabc',
      }),
      400,
      { message: /^Malformed multipart\/form-data body: /, param: null, code: "invalid_multipart" },
    );
    // None of the failed parts left an object behind.
    expect(await storeKeys(server, "uploads/")).toEqual([]);
  });
});

describe("completing an upload", () => {
  it("rejects wrong byte totals, unknown, foreign and duplicate parts", async () => {
    const upload = await create(10);
    const a = await addPart(upload.id, "12345");
    const b = await addPart(upload.id, "6789");
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: [a.id, b.id] }), 400, {
      message: "The parts add up to 9 bytes, but the upload was created with bytes=10.",
      param: "part_ids",
      code: "bytes_mismatch",
    });
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: [a.id, "part_nope"] }), 400, {
      message: `No such part in upload ${upload.id}: part_nope.`,
      param: "part_ids.1",
      code: "invalid_part",
    });
    const other = await create(3);
    const foreign = await addPart(other.id, "abc");
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: [foreign.id, a.id] }), 400, {
      message: `No such part in upload ${upload.id}: ${foreign.id}.`,
      param: "part_ids.0",
      code: "invalid_part",
    });
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: [a.id, a.id] }), 400, {
      message: `Part ${a.id} is listed more than once.`,
      param: "part_ids.1",
      code: "duplicate_part",
    });
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: [] }), 400, {
      message: /^Invalid value for 'part_ids': /,
      param: "part_ids",
      code: "invalid_value",
    });
    // Still pending after all that: a right completion works.
    const c = await addPart(upload.id, "0");
    const done = await server.client.uploads.complete(upload.id, { part_ids: [a.id, b.id, c.id] });
    expect(done.status).toBe("completed");
    expect(await (await server.client.files.content(done.file?.id as string)).text()).toBe("1234567890");
  });

  it("refuses to complete twice, or to take parts or a cancel afterwards", async () => {
    const upload = await create(3);
    const part = await addPart(upload.id, "abc");
    await server.client.uploads.complete(upload.id, { part_ids: [part.id] });
    const envelope = (action: string) => ({
      message: `Upload ${upload.id} is already completed; ${action}.`,
      param: null,
      code: "upload_completed",
    });
    await expectApiError(
      () => server.client.uploads.complete(upload.id, { part_ids: [part.id] }),
      400,
      envelope("it cannot be completed"),
    );
    await expectApiError(() => addPart(upload.id, "x"), 400, envelope("no parts can be added"));
    await expectApiError(() => server.client.uploads.cancel(upload.id), 400, envelope("it cannot be cancelled"));
  });

  it("refuses parts, completion and a second cancel after cancel", async () => {
    const upload = await create(3);
    const part = await addPart(upload.id, "abc");
    await server.client.uploads.cancel(upload.id);
    const envelope = (action: string) => ({
      message: `Upload ${upload.id} is already cancelled; ${action}.`,
      param: null,
      code: "upload_cancelled",
    });
    await expectApiError(() => addPart(upload.id, "x"), 400, envelope("no parts can be added"));
    await expectApiError(
      () => server.client.uploads.complete(upload.id, { part_ids: [part.id] }),
      400,
      envelope("it cannot be completed"),
    );
    await expectApiError(() => server.client.uploads.cancel(upload.id), 400, envelope("it cannot be cancelled"));
  });

  it("lets exactly one of two concurrent completions win", async () => {
    const upload = await create(6);
    const a = await addPart(upload.id, "abc");
    const b = await addPart(upload.id, "def");
    const results = await Promise.allSettled([
      server.client.uploads.complete(upload.id, { part_ids: [a.id, b.id] }),
      server.client.uploads.complete(upload.id, { part_ids: [a.id, b.id] }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(failed.reason.status).toBe(400);
    expect(failed.reason.error.code).toMatch(/^upload_(completed|completing)$/);
  });

  it("404s unknown uploads and other projects' uploads", async () => {
    const upload = await create(3);
    const other = await server.newTenant();
    const envelope = (id: string) => ({ message: `No such Upload object: ${id}`, param: "id", code: "not_found" });
    for (const id of [upload.id, "upload_nope"]) {
      await expectApiError(
        () => other.client.uploads.parts.create(id, { data: new File(["x"], "x") }),
        404,
        envelope(id),
      );
      await expectApiError(() => other.client.uploads.complete(id, { part_ids: ["part_x"] }), 404, envelope(id));
      await expectApiError(() => other.client.uploads.cancel(id), 404, envelope(id));
    }
  });
});
