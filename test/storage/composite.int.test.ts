/** Composite objects (a file kept as its upload's part objects), read through the local store on a temp folder. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteComposite, type ObjectPart, openComposite, readConcatenated } from "../../storage/composite.ts";
import { createLocalStore } from "../../storage/local.ts";
import type { ObjectStore } from "../../storage/port.ts";
import { randomBytes, readAll, streamOf } from "./streams.ts";

describe("composite objects", () => {
  let root: string;
  let store: ObjectStore;
  let parts: ObjectPart[];
  let whole: Uint8Array;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "rft-composite-"));
    store = createLocalStore(root);
    // Sizes around the local store's 64 KiB read chunk, one of them a single byte.
    const sizes = [70_000, 1, 65_536, 200_000, 3];
    const chunks = sizes.map((n) => randomBytes(n));
    parts = [];
    for (const [i, chunk] of chunks.entries()) {
      const key = `c/part-${i}`;
      await store.put(key, streamOf(chunk));
      parts.push({ key, bytes: chunk.length });
    }
    whole = Buffer.concat(chunks);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads the parts as one stream, in order", async () => {
    const read = readConcatenated(store, parts);
    expect(read.bytes).toBe(whole.length);
    expect(Buffer.from(await readAll(read.body)).equals(Buffer.from(whole))).toBe(true);
  });

  it("reads any range, across part boundaries, the same as slicing the whole", async () => {
    const total = whole.length;
    const ranges = [
      { start: 0, end: 1 },
      { start: 69_999, end: 70_002 },
      { start: 70_000, end: 70_001 },
      { start: 100_000, end: 300_000 },
      { start: total - 3 },
      { start: 5, end: total },
      { start: total, end: total + 10 },
    ];
    for (const range of ranges) {
      const read = readConcatenated(store, parts, range);
      const want = whole.subarray(range.start, Math.min(range.end ?? total, total));
      expect(read.bytes).toBe(want.length);
      expect(Buffer.from(await readAll(read.body)).equals(Buffer.from(want))).toBe(true);
    }
  });

  it("errors the stream when a part is missing or shorter than recorded, instead of returning other bytes", async () => {
    const missing = [...parts.slice(0, 2), { key: "c/nope", bytes: 10 }];
    await expect(readAll(readConcatenated(store, missing).body)).rejects.toMatchObject({ code: "not_found" });
    const longer = [{ key: parts[0]?.key as string, bytes: 70_001 }];
    await expect(readAll(readConcatenated(store, longer).body)).rejects.toMatchObject({
      code: "length_mismatch",
    });
  });

  it("stops reading when the consumer cancels", async () => {
    const read = readConcatenated(store, parts);
    const reader = read.body.getReader();
    await reader.read();
    await reader.cancel("enough");
    // The store is still usable and the parts intact.
    expect(Buffer.from(await readAll(readConcatenated(store, parts).body)).length).toBe(whole.length);
  });

  it("opens a single object or a list the same way; null when the bytes are gone; deletes every part", async () => {
    const single = await openComposite(store, { objectKey: parts[0]?.key as string, bytes: 70_000 });
    expect((await readAll(single?.body as ReadableStream<Uint8Array>)).length).toBe(70_000);
    const listed = await openComposite(store, { objectKey: "files/x", bytes: whole.length, parts });
    expect(Buffer.from(await readAll(listed?.body as ReadableStream<Uint8Array>)).equals(Buffer.from(whole))).toBe(
      true,
    );
    expect(await openComposite(store, { objectKey: "files/x", bytes: 1, parts: [{ key: "c/gone", bytes: 1 }] })).toBe(
      null,
    );
    await deleteComposite(store, { objectKey: "files/x", bytes: whole.length, parts });
    for (const part of parts) expect(await store.head(part.key)).toBeNull();
  });
});
