/** Files API happy paths through the official `openai` SDK, on the local store and on S3 (fauxqs). */
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findActiveKey } from "../../db/queries/auth.ts";
import { type S3TestServer, startFauxqs } from "../helpers/s3-servers.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { allFileIds, rftJsonl, s3Env, sftLine, storeKeys } from "./fixtures.ts";

describe.each(["local", "s3"] as const)("files on the %s store", (kind) => {
  let s3: S3TestServer | undefined;
  let server: TestServer;
  let projectId: string;

  beforeAll(async () => {
    s3 = kind === "s3" ? await startFauxqs() : undefined;
    server = await startServer(s3 ? s3Env(s3) : {});
    projectId = (await findActiveKey(server.runtime.deps.db, server.apiKey))?.projectId as string;
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  it("stores a reinforcement dataset, then retrieves, lists, downloads and deletes it", async () => {
    const { client } = server;
    const text = rftJsonl(50);
    const created = await client.files.create({
      file: await toFile(Buffer.from(text), "train.jsonl"),
      purpose: "fine-tune",
    });
    expect(created).toMatchObject({
      object: "file",
      bytes: Buffer.byteLength(text),
      filename: "train.jsonl",
      purpose: "fine-tune",
      status: "processed",
      status_details: null,
      expires_at: null,
    });
    expect(created.id).toMatch(/^file-/);
    expect(Math.abs(created.created_at - Date.now() / 1000)).toBeLessThan(60);
    // The object key is made of ids only, never of the client's file name.
    expect(await storeKeys(server, `files/${projectId}/`)).toEqual([`files/${projectId}/${created.id}`]);

    expect(await client.files.retrieve(created.id)).toEqual(created);
    expect(await allFileIds(client)).toContain(created.id);

    const content = await client.files.content(created.id);
    expect(content.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(content.headers.get("content-type")).toBeTruthy();
    expect(await content.text()).toBe(text);

    expect(await client.files.delete(created.id)).toEqual({ id: created.id, object: "file", deleted: true });
    expect(await allFileIds(client)).not.toContain(created.id);
    expect(await storeKeys(server, `files/${projectId}/`)).toEqual([]);
  });

  it("accepts a supervised dataset, CRLF line ends and blank lines at the end", async () => {
    const text = `${sftLine(1)}\r\n${sftLine(2)}\r\n\r\n\n`;
    const file = await server.client.files.create({
      file: await toFile(Buffer.from(text), "sft.jsonl"),
      purpose: "fine-tune",
    });
    expect(file.status).toBe("processed");
    expect(file.bytes).toBe(Buffer.byteLength(text));
  });

  it("stores files of other purposes without JSONL checks, with purpose before file and expiry", async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x0a, 0x0a, 0x7b]);
    const image = await server.client.files.create({
      purpose: "vision",
      file: await toFile(bytes, "pixel.png", { type: "image/png" }),
      expires_after: { anchor: "created_at", seconds: 7200 },
    });
    expect(image).toMatchObject({ purpose: "vision", status: "processed", bytes: bytes.length });
    expect(image.expires_at).toBe(image.created_at + 7200);
    const back = await server.client.files.content(image.id);
    expect(Buffer.from(await back.arrayBuffer())).toEqual(bytes);

    const batch = await server.client.files.create({
      file: await toFile(Buffer.from("not json\n"), "b.jsonl"),
      purpose: "batch",
    });
    expect(batch.expires_at).toBe(batch.created_at + 30 * 24 * 3600);
  });

  it("pages through files with cursors, newest first by default, filtered by purpose", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const file = await server.client.files.create({
        file: await toFile(Buffer.from(`file ${i}`), `f${i}.txt`),
        purpose: "user_data",
      });
      ids.push(file.id);
    }
    const seen: string[] = [];
    for await (const file of server.client.files.list({ purpose: "user_data", limit: 2 })) seen.push(file.id);
    expect(seen).toEqual([...ids].reverse());

    const ascending: string[] = [];
    for await (const file of server.client.files.list({ purpose: "user_data", limit: 3, order: "asc" })) {
      ascending.push(file.id);
    }
    expect(ascending).toEqual(ids);

    const page = await server.client.files.list({ purpose: "user_data", limit: 2 });
    expect(page.data.map((f) => f.id)).toEqual([ids[6], ids[5]]);
    expect(page.has_more).toBe(true);
  });
});

it("documents the Files and Uploads routes in /openapi.json", async () => {
  const server = await startServer();
  try {
    const doc = (await (await fetch(`${server.origin}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, method] of [
      ["/v1/files", "post"],
      ["/v1/files", "get"],
      ["/v1/files/{file_id}", "get"],
      ["/v1/files/{file_id}", "delete"],
      ["/v1/files/{file_id}/content", "get"],
      ["/v1/uploads", "post"],
      ["/v1/uploads/{upload_id}/parts", "post"],
      ["/v1/uploads/{upload_id}/complete", "post"],
      ["/v1/uploads/{upload_id}/cancel", "post"],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const upload = doc.paths["/v1/files"]?.post as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
    };
    expect(upload.requestBody.content["multipart/form-data"]?.schema.required).toEqual(["file", "purpose"]);
  } finally {
    await server.stop();
  }
});
