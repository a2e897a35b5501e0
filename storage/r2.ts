/**
 * The R2 adapter of the object store port, over a Workers R2 binding (runs in workerd only). R2's `put` needs a
 * known length for a stream, so bodies are cut into parts of `partSize` and sent as a multipart upload; a body
 * smaller than one part is a single put. Neither leaves a visible object unless the whole body arrived.
 * Presigned URLs need R2's S3 API (use the S3 adapter for that); `presign` here returns null.
 */
import { createStreamMeter } from "./hashing.ts";
import type { GetResult, ObjectInfo, ObjectStore, PutOptions, PutResult } from "./port.ts";
import { assertValidKey, assertValidPrefix, assertValidRange } from "./validate.ts";

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

export function createR2Store(bucket: R2BucketLike, options: { partSize?: number } = {}): ObjectStore {
  const partSize = options.partSize ?? 8 * MIB;

  async function put(key: string, body: ReadableStream<Uint8Array>, opts: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    const meter = createStreamMeter(opts.contentLength);
    const reader = body.pipeThrough(meter.transform).getReader();
    const meta = opts.contentType ? { httpMetadata: { contentType: opts.contentType } } : {};
    let buffer = new Uint8Array(partSize);
    let filled = 0;
    let upload: R2MultipartLike | null = null;
    const parts: { partNumber: number; etag: string }[] = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let offset = 0;
        while (offset < value.byteLength) {
          const n = Math.min(partSize - filled, value.byteLength - offset);
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
      if (upload) {
        if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, buffer.subarray(0, filled)));
        await upload.complete(parts);
      } else {
        await bucket.put(key, buffer.subarray(0, filled), meta);
      }
    } catch (err) {
      await upload?.abort().catch(() => {});
      throw err;
    }
    return { key, ...meter.result() };
  }

  async function get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null> {
    assertValidKey(key);
    if (range) assertValidRange(range);
    const r2Range = range
      ? { offset: range.start, ...(range.end !== undefined ? { length: range.end - range.start } : {}) }
      : undefined;
    const obj = await bucket.get(key, r2Range ? { range: r2Range } : {});
    if (!obj) return null;
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? obj.size, obj.size);
    return { key, bytes: Math.max(0, end - start), body: obj.body, ...contentType(obj) };
  }

  const contentType = (o: R2ObjectLike) =>
    o.httpMetadata?.contentType ? { contentType: o.httpMetadata.contentType } : {};

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
    async compose(target, sources) {
      // The binding has no server-side copy: stream the sources one after another into a new object.
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const pump = (async () => {
        for (const source of sources) {
          const obj = await get(source);
          if (!obj) throw new Error(`compose source ${source} does not exist`);
          await obj.body.pipeTo(writable, { preventClose: true });
        }
        await writable.close();
      })();
      pump.catch((err) => writable.abort(err).catch(() => {}));
      const [stored] = await Promise.all([put(target, readable), pump]);
      return { key: target, bytes: stored.bytes };
    },
    async presign() {
      return null;
    },
  };
}
