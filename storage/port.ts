/**
 * The object store port. Everything that stores bytes (datasets, upload parts, checkpoints, base models)
 * goes through this interface; adapters live beside it (`local.ts`, `s3.ts`, later `r2.ts`) and are chosen
 * once at start-up. Bodies are Web streams so the same code runs on Node and in workerd, and nothing here
 * ever holds a whole object in memory.
 */

export interface PutOptions {
  contentType?: string;
  /** Known length in bytes; lets adapters use a single PUT instead of multipart. */
  contentLength?: number;
  /**
   * When the exact length is unknown: bytes the body is sure to have (an upload part: the request's length less
   * the multipart framing). The S3 adapter streams that much instead of buffering it; a body that turns out
   * shorter fails with `length_mismatch`. Other adapters stream anyway and ignore it.
   */
  lengthAtLeast?: number;
}

export interface PutResult {
  key: string;
  bytes: number;
  /** Lower-case hex sha256 of the bytes stored, computed while streaming. */
  sha256: string;
}

export interface ObjectInfo {
  key: string;
  bytes: number;
  contentType?: string;
}

export interface GetResult extends ObjectInfo {
  body: ReadableStream<Uint8Array>;
}

export interface ObjectStore {
  /** Which adapter this is, for logs and health output. */
  readonly kind: string;
  /** Streams `body` to `key`. The object is visible only once the whole body is stored (no half-written object). */
  put(key: string, body: ReadableStream<Uint8Array>, options?: PutOptions): Promise<PutResult>;
  /** The object's bytes, or `null` when it does not exist. `range` is inclusive-exclusive byte offsets. */
  get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Keys under `prefix`, in lexical order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** A time-limited URL that GETs (or PUTs) the object without credentials, or `null` if the backend has none (local directory). */
  presign(key: string, method: "GET" | "PUT", expiresInSeconds: number): Promise<string | null>;
}
