/** Uploads API happy paths through the official `openai` SDK, on the local store and on S3 (fauxqs). */
import { createHash } from "node:crypto";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { findActiveKey } from "../../db/queries/auth.ts";
import { findFile } from "../../db/queries/files.ts";
import { expireUploads } from "../../db/queries/uploads.ts";
import { expectApiError, rftJsonl, s3Env, storeKeys } from "../files/fixtures.ts";
import { type S3TestServer, startFauxqs } from "../helpers/s3-servers.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

/** Splits `bytes` into `n` parts of about equal size. */
function split(bytes: Buffer, n: number): Buffer[] {
  const size = Math.ceil(bytes.length / n);
  return Array.from({ length: n }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

describe.each(["local", "s3"] as const)("uploads on the %s store", (kind) => {
  let s3: S3TestServer | undefined;
  let server: TestServer;

  beforeAll(async () => {
    s3 = kind === "s3" ? await startFauxqs() : undefined;
    server = await startServer(s3 ? s3Env(s3) : {});
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  const projectId = async () => (await findActiveKey(server.runtime.deps.db, server.apiKey))?.projectId as string;

  /** Creates an upload of `bytes` and sends its parts in parallel; returns the part ids in file order. */
  async function uploadParts(bytes: Buffer, n: number, purpose: "fine-tune" | "user_data" = "fine-tune") {
    const upload = await server.client.uploads.create({
      bytes: bytes.length,
      filename: "train.jsonl",
      mime_type: "application/jsonl",
      purpose,
    });
    const parts = await Promise.all(
      split(bytes, n).map(async (data, i) =>
        server.client.uploads.parts.create(upload.id, { data: await toFile(data, `part-${i}`) }),
      ),
    );
    return { upload, partIds: parts.map((p) => p.id), parts };
  }

  it("assembles parallel parts into a file that is validated in the background", async () => {
    const bytes = Buffer.from(rftJsonl(3000));
    const { upload, partIds, parts } = await uploadParts(bytes, 4);
    expect(upload).toMatchObject({
      object: "upload",
      status: "pending",
      bytes: bytes.length,
      purpose: "fine-tune",
      file: null,
    });
    expect(upload.id).toMatch(/^upload_/);
    expect(upload.expires_at).toBe(upload.created_at + 3600);
    for (const part of parts) expect(part).toMatchObject({ object: "upload.part", upload_id: upload.id });
    expect(partIds.every((id) => id.startsWith("part_"))).toBe(true);

    const md5 = createHash("md5").update(bytes).digest("hex");
    const done = await server.client.uploads.complete(upload.id, { part_ids: partIds, md5 });
    expect(done).toMatchObject({ id: upload.id, status: "completed", bytes: bytes.length });
    expect(done.file).toMatchObject({
      object: "file",
      bytes: bytes.length,
      filename: "train.jsonl",
      purpose: "fine-tune",
    });
    expect(["uploaded", "processed"]).toContain(done.file?.status);

    const file = await server.client.files.waitForProcessing(done.file?.id as string, { pollInterval: 50 });
    expect(file.status).toBe("processed");
    expect(file.status_details).toBeNull();
    expect(await (await server.client.files.content(file.id)).text()).toBe(bytes.toString());
    // The background pass that validated it also recorded the sha256 of the whole file.
    const row = await findFile(server.runtime.deps.db, await projectId(), file.id);
    expect(row?.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    // Complete copied nothing: the file's bytes are its part objects, and deleting the file deletes them.
    const partsPrefix = `uploads/${await projectId()}/${upload.id}/`;
    expect(await storeKeys(server, partsPrefix)).toHaveLength(4);
    expect(await storeKeys(server, `files/${await projectId()}/`)).not.toContain(
      `files/${await projectId()}/${file.id}`,
    );
    await server.client.files.delete(file.id);
    expect(await storeKeys(server, partsPrefix)).toEqual([]);
  });

  it("stores parts of several MiB (streamed to S3 in parts of known length) byte for byte", async () => {
    const bytes = Buffer.from(rftJsonl(160_000));
    expect(bytes.length).toBeGreaterThan(12 * 1024 * 1024);
    const { upload, partIds } = await uploadParts(bytes, 2);
    const done = await server.client.uploads.complete(upload.id, { part_ids: partIds });
    const file = await server.client.files.waitForProcessing(done.file?.id as string, { pollInterval: 50 });
    expect(file.status).toBe("processed");
    const back = Buffer.from(await (await server.client.files.content(file.id)).arrayBuffer());
    expect(back.equals(bytes)).toBe(true);
  });

  it("deletes the parts that complete did not list, and keeps the listed ones in the given order", async () => {
    const bytes = Buffer.from(rftJsonl(300));
    const pieces = split(bytes, 3);
    const upload = await server.client.uploads.create({
      bytes: bytes.length,
      filename: "train.jsonl",
      mime_type: "application/jsonl",
      purpose: "fine-tune",
    });
    // Sent out of order, plus one stray part that is not listed.
    const third = await server.client.uploads.parts.create(upload.id, { data: await toFile(pieces[2] as Buffer) });
    const stray = await server.client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from("stray")) });
    const first = await server.client.uploads.parts.create(upload.id, { data: await toFile(pieces[0] as Buffer) });
    const second = await server.client.uploads.parts.create(upload.id, { data: await toFile(pieces[1] as Buffer) });
    const done = await server.client.uploads.complete(upload.id, { part_ids: [first.id, second.id, third.id] });
    const file = await server.client.files.waitForProcessing(done.file?.id as string, { pollInterval: 50 });
    expect(file.status).toBe("processed");
    expect(Buffer.from(await (await server.client.files.content(file.id)).arrayBuffer()).equals(bytes)).toBe(true);
    const keys = await storeKeys(server, `uploads/${await projectId()}/${upload.id}/`);
    expect(keys).toHaveLength(3);
    expect(keys.some((k) => k.endsWith(stray.id))).toBe(false);
  });

  it("ends in status error, naming the first bad lines, for a bad dataset", async () => {
    const lines = rftJsonl(200).split("\n");
    lines[41] = "{not json";
    lines[99] = '{"messages":[{"role":"assistant","content":"x"}]}';
    const bytes = Buffer.from(lines.join("\n"));
    const { upload, partIds } = await uploadParts(bytes, 2);
    const done = await server.client.uploads.complete(upload.id, { part_ids: partIds });
    const file = await server.client.files.waitForProcessing(done.file?.id as string, { pollInterval: 50 });
    expect(file.status).toBe("error");
    expect(file.status_details).toMatch(
      /^Invalid fine-tuning file: line 42: invalid JSON \(.+\); line 100: a supervised example/,
    );
  });

  it("makes other purposes processed at once, and applies expires_after to the file", async () => {
    const bytes = Buffer.from("binary \x00 data, not JSONL");
    const upload = await server.client.uploads.create({
      bytes: bytes.length,
      filename: "blob.bin",
      mime_type: "application/octet-stream",
      purpose: "user_data",
      expires_after: { anchor: "created_at", seconds: 7200 },
    });
    const part = await server.client.uploads.parts.create(upload.id, { data: await toFile(bytes, "blob.bin") });
    const done = await server.client.uploads.complete(upload.id, { part_ids: [part.id] });
    expect(done.file).toMatchObject({ status: "processed", purpose: "user_data" });
    expect(done.file?.expires_at).toBe((done.file?.created_at as number) + 7200);
    expect(await server.client.files.retrieve(done.file?.id as string)).toEqual(done.file);
    // Not a dataset, so not validated; its sha256 is still recorded in the background.
    const id = done.file?.id as string;
    await vi.waitFor(async () => {
      const row = await findFile(server.runtime.deps.db, await projectId(), id);
      expect(row?.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    });
  });

  it("keeps an upload pending after a wrong md5, so it can be completed again", async () => {
    const bytes = Buffer.from(rftJsonl(10));
    const { upload, partIds } = await uploadParts(bytes, 2);
    await expectApiError(
      () => server.client.uploads.complete(upload.id, { part_ids: partIds, md5: "0".repeat(32) }),
      400,
      {
        message: "The md5 of the assembled parts does not match 'md5'.",
        param: "md5",
        code: "md5_mismatch",
      },
    );
    const filesBefore = await storeKeys(server, "files/");
    await expectApiError(
      () => server.client.uploads.complete(upload.id, { part_ids: partIds, md5: "f".repeat(32) }),
      400,
      {
        param: "md5",
        code: "md5_mismatch",
      },
    );
    // A failed completion stores nothing.
    expect(await storeKeys(server, "files/")).toEqual(filesBefore);
    const done = await server.client.uploads.complete(upload.id, { part_ids: partIds });
    expect(done.status).toBe("completed");
  });

  it("cancels an upload and deletes its parts", async () => {
    const { upload } = await uploadParts(Buffer.from(rftJsonl(10)), 3);
    const prefix = `uploads/${await projectId()}/${upload.id}/`;
    expect((await storeKeys(server, prefix)).length).toBe(3);
    const cancelled = await server.client.uploads.cancel(upload.id);
    expect(cancelled).toMatchObject({ id: upload.id, status: "cancelled", file: null });
    expect(await storeKeys(server, prefix)).toEqual([]);
  });

  it("expires pending uploads with expireUploads(deps, now)", async () => {
    const { upload } = await uploadParts(Buffer.from(rftJsonl(10)), 2);
    const prefix = `uploads/${await projectId()}/${upload.id}/`;
    expect(await expireUploads(server.runtime.deps, new Date())).not.toContain(upload.id);
    const later = new Date(Date.now() + 3601_000);
    expect(await expireUploads(server.runtime.deps, later)).toContain(upload.id);
    expect(await storeKeys(server, prefix)).toEqual([]);
    await expectApiError(() => server.client.uploads.complete(upload.id, { part_ids: ["part_x"] }), 400, {
      message: new RegExp(`^Upload ${upload.id} expired at \\d{4}-.+Z; it cannot be completed\\.$`),
      param: null,
      code: "upload_expired",
    });
  });
});
