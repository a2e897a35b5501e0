/**
 * The S3 adapter's streamed put (`PutOptions.lengthAtLeast`: how upload parts are stored), against both test S3
 * servers: the sure prefix is streamed as parts of known length, the rest buffered; the object is exact; a body
 * shorter than promised leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ObjectStoreError } from "../../storage/errors.ts";
import { prefixParts } from "../../storage/s3-streamed-put.ts";
import { type S3TestServer, startFauxqs, startS3rver } from "../helpers/s3-servers.ts";
import { probedS3Store, type S3Probe } from "./s3-target.ts";
import { lazySource, randomBytes, readAll, sha256Hex, streamOf } from "./streams.ts";

const MIB = 1024 * 1024;

describe.each([
  ["fauxqs", startFauxqs],
  ["s3rver", startS3rver],
] as const)("streamed put on %s", (_name, start) => {
  let server: S3TestServer;
  let probe: S3Probe;

  beforeAll(async () => {
    server = await start();
    probe = probedS3Store(server);
  });
  afterAll(async () => {
    probe?.store.client.destroy();
    await server?.stop();
  });

  it("streams the sure prefix as one part of known length and buffers only the rest", async () => {
    const bytes = randomBytes(6 * MIB + 12_345, 3);
    probe.commands.length = 0;
    const put = await probe.store.put("streamed/a", streamOf(bytes, 65_536), { lengthAtLeast: 6 * MIB });
    expect(put).toEqual({ key: "streamed/a", bytes: bytes.length, sha256: sha256Hex(bytes) });
    expect(probe.commands).toEqual([
      "CreateMultipartUploadCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "CompleteMultipartUploadCommand",
    ]);
    const got = await probe.store.get("streamed/a");
    expect(sha256Hex(await readAll(got?.body as ReadableStream<Uint8Array>))).toBe(sha256Hex(bytes));
  });

  it("ends with the prefix part when the body is exactly as long as promised", async () => {
    const bytes = randomBytes(5 * MIB, 4);
    probe.commands.length = 0;
    const put = await probe.store.put("streamed/exact", streamOf(bytes, 100_000), { lengthAtLeast: 5 * MIB });
    expect(put.sha256).toBe(sha256Hex(bytes));
    expect(probe.commands.filter((c) => c === "UploadPartCommand")).toHaveLength(1);
    expect((await probe.store.head("streamed/exact"))?.bytes).toBe(bytes.length);
  });

  it("buffers a long rest in full-sized parts when the promise was low", async () => {
    const bytes = randomBytes(16 * MIB + 7, 5);
    probe.commands.length = 0;
    const put = await probe.store.put("streamed/long", streamOf(bytes, 65_536), { lengthAtLeast: 5 * MIB });
    expect(put.bytes).toBe(bytes.length);
    // 5 MiB streamed, then 5 + 5 + 1 MiB and 7 bytes buffered (the store's parts are 5 MiB here).
    expect(probe.commands.filter((c) => c === "UploadPartCommand")).toHaveLength(4);
    const got = await probe.store.get("streamed/long");
    expect(sha256Hex(await readAll(got?.body as ReadableStream<Uint8Array>))).toBe(sha256Hex(bytes));
  });

  it("fails with length_mismatch and stores nothing when the body is shorter than promised", async () => {
    const bytes = randomBytes(5 * MIB + 10, 6);
    const err = await probe.store
      .put("streamed/short", streamOf(bytes, 65_536), { lengthAtLeast: 6 * MIB })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).code).toBe("length_mismatch");
    expect(await probe.store.head("streamed/short")).toBeNull();
  });

  it("reports the body's own failure and stores nothing", async () => {
    const source = lazySource(8 * MIB, { failAt: 6 * MIB });
    const err = await probe.store
      .put("streamed/broken", source.stream, { lengthAtLeast: 7 * MIB })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/failed on purpose/);
    expect(await probe.store.head("streamed/broken")).toBeNull();
  });
});

describe("prefixParts", () => {
  it("covers the prefix in parts of about the part size, none under 5 MiB", () => {
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    for (const total of [5 * MIB, 9 * MIB, 10 * MIB, 64 * MIB - 65_536, 100 * MIB + 3, 1000 * MIB]) {
      const sizes = prefixParts(total, 8 * MIB);
      expect(sum(sizes)).toBe(total);
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(5 * MIB);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(prefixParts(64 * MIB, 8 * MIB)).toEqual(Array(8).fill(8 * MIB));
    expect(prefixParts(9 * MIB, 8 * MIB)).toEqual([9 * MIB]);
  });
});
