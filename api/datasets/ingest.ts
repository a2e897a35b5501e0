/**
 * Streams one uploaded body into the object store with a byte limit, optionally through a dataset validator.
 * Whatever goes wrong (too large, the client went away, the store failed, the dataset was rejected early),
 * nothing is left behind: the store's put is aborted and the key deleted.
 */
import type { ObjectStore, PutResult } from "../../storage/port.ts";
import type { DatasetValidator } from "./validate.ts";

/** The body passed `maxBytes`. */
export class TooLargeError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
    this.name = "TooLargeError";
    this.maxBytes = maxBytes;
  }
}

export interface IngestOptions {
  store: ObjectStore;
  key: string;
  contentType: string;
  maxBytes: number;
  /** Passed to the store (`PutOptions.lengthAtLeast`): bytes the body is sure to have. */
  lengthAtLeast?: number | undefined;
  validator?: DatasetValidator | undefined;
  /**
   * Asked once, when the validator finds its first problem: `true` stops storing (the rest of the body is still
   * read and validated, for the line count and the next problems).
   */
  stopOnProblem?: (() => boolean) | undefined;
}

export interface IngestResult {
  /** `null` when storing was stopped early. */
  stored: PutResult | null;
  bytes: number;
}

const PIPE_BYTES = 1024 * 1024;

export async function ingest(body: ReadableStream<Uint8Array>, options: IngestOptions): Promise<IngestResult> {
  const { store, key, validator } = options;
  if (!validator) return ingestPlain(body, options);
  const pipe = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    new ByteLengthQueuingStrategy({ highWaterMark: PIPE_BYTES }),
    new ByteLengthQueuingStrategy({ highWaterMark: PIPE_BYTES }),
  );
  const writer = pipe.writable.getWriter();
  const put = store.put(key, pipe.readable, {
    contentType: options.contentType,
    ...(options.lengthAtLeast !== undefined && { lengthAtLeast: options.lengthAtLeast }),
  });
  put.catch(() => {});
  const discard = async () => {
    await put.catch(() => {});
    await store.delete(key).catch(() => {});
  };

  const reader = body.getReader();
  let storing = true;
  let asked = false;
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > options.maxBytes) throw new TooLargeError(options.maxBytes);
      validator?.push(value);
      if (storing && !asked && validator?.failed) {
        asked = true;
        if (options.stopOnProblem?.()) {
          storing = false;
          await writer.abort(new Error("dataset rejected")).catch(() => {});
        }
      }
      if (storing) await writer.write(value);
    }
    if (!storing) {
      await discard();
      return { stored: null, bytes };
    }
    await writer.close();
    return { stored: await put, bytes };
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    await writer.abort(err).catch(() => {});
    await discard();
    throw err;
  }
}

/** Without a validator: one counting stage between the body and the store, piped (no per-chunk read/write loop). */
async function ingestPlain(body: ReadableStream<Uint8Array>, options: IngestOptions): Promise<IngestResult> {
  let bytes = 0;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      bytes += chunk.byteLength;
      if (bytes > options.maxBytes) throw new TooLargeError(options.maxBytes);
      controller.enqueue(chunk);
    },
  });
  try {
    const stored = await options.store.put(options.key, body.pipeThrough(limit), {
      contentType: options.contentType,
      ...(options.lengthAtLeast !== undefined && { lengthAtLeast: options.lengthAtLeast }),
    });
    return { stored, bytes };
  } catch (err) {
    await body.cancel(err).catch(() => {});
    await options.store.delete(options.key).catch(() => {});
    throw err;
  }
}
