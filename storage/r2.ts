/**
 * The R2 adapter of the object store port, over a Workers R2 binding (runs in workerd only). R2's `put` needs a
 * known length for a stream, so bodies are cut into parts of `partSize` and sent as a multipart upload; a body
 * smaller than one part is a single put. Neither leaves a visible object unless the whole body arrived.
 * Presigned URLs need R2's S3 API (use the S3 adapter for that); `presign` here returns null.
 * Tested against workerd's R2 (Miniflare) by test/workerd/r2-store.int.test.ts, which runs the store contract.
 */

import { createStreamMeter } from "./hashing.ts";
import type { GetResult, ObjectInfo, ObjectStore, PutOptions, PutResult } from "./port.ts";
import { assertValidKey, assertValidPrefix, assertValidRange, clampRange } from "./validate.ts";

/** The subset of the Workers `R2Bucket` binding this adapter uses (structural, so no workers-types dependency). */
export interface R2BucketLike {
  put(
    key: string,
    value: Uint8Array | ArrayBuffer,
    options?: { httpMetadata?: { contentType?: string } },
  ): Promise<unknown>;
  get(key: string, options?: { range?: { offset: number; length?: number } }): Promise<R2ObjectBodyLike | null>;
  head(key: string): Promise<R2ObjectLike | null>;
  delete(key: string): Promise<void>;
  list(options: {
    prefix: string;
    cursor?: string;
  }): Promise<{ objects: R2ObjectLike[]; truncated: boolean; cursor?: string }>;
  createMultipartUpload(key: string, options?: { httpMetadata?: { contentType?: string } }): Promise<R2MultipartLike>;
}
interface R2ObjectLike {
  key: string;
  size: number;
  httpMetadata?: { contentType?: string };
}
interface R2ObjectBodyLike extends R2ObjectLike {
  body: ReadableStream<Uint8Array>;
}
interface R2MultipartLike {
  uploadPart(partNumber: number, value: Uint8Array): Promise<{ partNumber: number; etag: string }>;
  complete(parts: { partNumber: number; etag: string }[]): Promise<unknown>;
  abort(): Promise<void>;
}

const MIB = 1024 * 1024;
/** R2 refuses multipart parts under 5 MiB (all but the last), and wants every part but the last the same size. */
const MIN_PART_BYTES = 5 * MIB;
/** The first buffer a put fills; it doubles up to `partSize`, so a small object never costs a whole part. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/** R2's answer to a range that starts at or past the end of the object (HTTP 416, R2 error code 10039). */
const isRangeNotSatisfiable = (err: unknown) =>
  err instanceof Error && /\(10039\)|range is not satisfiable/i.test(err.message);

export function createR2Store(bucket: R2BucketLike, options: { partSize?: number } = {}): ObjectStore {
  const partSize = options.partSize ?? 8 * MIB;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_BYTES) {
    throw new Error(`R2 partSize must be an integer of at least ${MIN_PART_BYTES} bytes (R2's minimum part size)`);
  }

  async function put(key: string, body: ReadableStream<Uint8Array>, opts: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const meter = createStreamMeter(opts.contentLength);
    const reader = body.pipeThrough(meter.transform).getReader();
    const meta = opts.contentType ? { httpMetadata: { contentType: opts.contentType } } : {};
    let buffer = new Uint8Array(Math.min(partSize, opts.contentLength || FIRST_BUFFER_BYTES));
    let filled = 0;
    let upload: R2MultipartLike | null = null;
    const parts: { partNumber: number; etag: string }[] = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let offset = 0;
        while (offset < value.byteLength) {
          if (filled === buffer.byteLength) buffer = grown(buffer, Math.min(partSize, buffer.byteLength * 2));
          const n = Math.min(buffer.byteLength - filled, value.byteLength - offset);
          buffer.set(value.subarray(offset, offset + n), filled);
          filled += n;
          offset += n;
          if (filled === partSize) {
            upload ??= await bucket.createMultipartUpload(key, meta);
            parts.push(await upload.uploadPart(parts.length + 1, buffer));
            buffer = new Uint8Array(partSize);
            filled = 0;
          }
        }
      }
      // Exact-length copies: a binding (or a proxy of one) may send the whole underlying buffer of a view.
      const rest = filled === buffer.byteLength ? buffer : buffer.slice(0, filled);
      if (upload) {
        if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, rest));
        await upload.complete(parts);
      } else {
        await bucket.put(key, rest, meta);
      }
    } catch (err) {
      // Let the body's source go (a client still sending) and drop the parts sent.
      await reader.cancel(err).catch(() => {});
      await upload?.abort().catch(() => {});
      throw err;
    }
    return { key, ...meter.result() };
  }

  async function get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null> {
    assertValidKey(key);
    if (!range) {
      const obj = await bucket.get(key, {});
      return obj ? { key, bytes: obj.size, body: obj.body, ...contentType(obj) } : null;
    }
    assertValidRange(range);
    // R2 refuses a zero-length range and one that starts past the end; the port answers both with an empty body.
    if (range.end !== undefined && range.end <= range.start) return emptyRange(key);
    let obj: R2ObjectBodyLike | null;
    try {
      const length = range.end !== undefined ? { length: range.end - range.start } : {};
      obj = await bucket.get(key, { range: { offset: range.start, ...length } });
    } catch (err) {
      if (isRangeNotSatisfiable(err)) return emptyRange(key);
      throw err;
    }
    if (!obj) return null;
    const { start, end } = clampRange(range, obj.size);
    return { key, bytes: end - start, body: obj.body, ...contentType(obj) };
  }

  async function emptyRange(key: string): Promise<GetResult | null> {
    const obj = await bucket.head(key);
    if (!obj) return null;
    const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return { key, bytes: 0, body, ...contentType(obj) };
  }

  const contentType = (o: R2ObjectLike) =>
    o.httpMetadata?.contentType ? { contentType: o.httpMetadata.contentType } : {};

  const grown = (from: Uint8Array, size: number) => {
    const to = new Uint8Array(size);
    to.set(from);
    return to;
  };

  return {
    kind: "r2",
    put,
    get,
    async head(key): Promise<ObjectInfo | null> {
      assertValidKey(key);
      const o = await bucket.head(key);
      return o ? { key, bytes: o.size, ...contentType(o) } : null;
    },
    async delete(key) {
      assertValidKey(key);
      await bucket.delete(key);
    },
    async *list(prefix) {
      assertValidPrefix(prefix);
      let cursor: string | undefined;
      do {
        const page = await bucket.list(cursor ? { prefix, cursor } : { prefix });
        for (const o of page.objects) yield { key: o.key, bytes: o.size, ...contentType(o) };
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    },
    async presign(key) {
      assertValidKey(key);
      return null;
    },
  };
}
