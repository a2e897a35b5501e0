/**
 * The R2 adapter (`storage/r2.ts`) against workerd's own R2 implementation: Miniflare's `getR2Bucket()` is a
 * Node-side proxy of the real binding a Worker gets (same storage, same checks: part sizes, ranges, multipart).
 * The whole object store contract runs over it; the Worker-side use of the adapter is covered by api.int.test.ts.
 */
import { Miniflare } from "miniflare";
import { expect, it } from "vitest";
import { createR2Store, type R2BucketLike } from "../../storage/r2.ts";
import { describeObjectStoreContract } from "../storage/store-contract.ts";
import { randomBytes, streamOf } from "../storage/streams.ts";

const MIB = 1024 * 1024;

/** A bucket that counts the bytes R2 acknowledged (single puts and multipart parts) and the calls made. */
function probed(bucket: R2BucketLike) {
  let landed = 0;
  const calls: string[] = [];
  const size = (value: unknown) => (value instanceof Uint8Array || value instanceof ArrayBuffer ? value.byteLength : 0);
  const probe: R2BucketLike = {
    put: async (key, value, options) => {
      calls.push("put");
      const result = await bucket.put(key, value, options);
      landed += size(value);
      return result;
    },
    get: (key, options) => bucket.get(key, options),
    head: (key) => bucket.head(key),
    delete: (key) => bucket.delete(key),
    list: (options) => bucket.list(options),
    createMultipartUpload: async (key, options) => {
      calls.push("createMultipartUpload");
      const upload = await bucket.createMultipartUpload(key, options);
      return {
        uploadPart: async (partNumber, value) => {
          calls.push(`uploadPart:${value.byteLength}`);
          const part = await upload.uploadPart(partNumber, value);
          landed += value.byteLength;
          return part;
        },
        complete: (parts) => {
          calls.push("complete");
          return upload.complete(parts);
        },
        abort: () => {
          calls.push("abort");
          return upload.abort();
        },
      };
    },
  };
  return { bucket: probe, landedBytes: () => landed, calls };
}

async function startR2() {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    script: "export default { fetch() { return new Response('r2 test worker'); } };",
    compatibilityDate: "2026-04-20",
    r2Buckets: { BUCKET: "rft-objects" },
  });
  await mf.ready;
  return { mf, bucket: (await mf.getR2Bucket("BUCKET")) as unknown as R2BucketLike };
}

describeObjectStoreContract("R2 adapter on workerd's R2 (Miniflare)", async () => {
  const { mf, bucket } = await startR2();
  const probe = probed(bucket);
  return {
    store: createR2Store(probe.bucket),
    keepsContentType: true,
    landedBytes: probe.landedBytes,
    // One 8 MiB part being filled, plus a few 64 KiB chunks in the pipes.
    maxBufferedBytes: 8 * MIB + 256 * 1024,
    listOrder: "bytes",
    presign: "none",
    stop: () => mf.dispose(),
  };
});

it("R2 adapter: a body larger than a part goes up as equal parts and a short last one; smaller is one put", async () => {
  const { mf, bucket } = await startR2();
  try {
    const probe = probed(bucket);
    const store = createR2Store(probe.bucket, { partSize: 5 * MIB });
    await store.put("multi", streamOf(randomBytes(11 * MIB + 3, 1), 300_001));
    expect(probe.calls).toEqual([
      "createMultipartUpload",
      `uploadPart:${5 * MIB}`,
      `uploadPart:${5 * MIB}`,
      `uploadPart:${MIB + 3}`,
      "complete",
    ]);
    expect((await store.head("multi"))?.bytes).toBe(11 * MIB + 3);
    probe.calls.length = 0;
    await store.put("single", streamOf(randomBytes(5 * MIB - 1, 2)));
    expect(probe.calls).toEqual(["put"]);
  } finally {
    await mf.dispose();
  }
});
