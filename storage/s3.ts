/**
 * The object store on any S3-compatible service (AWS S3, R2 through its S3 API, MinIO, ...). Only Web-standard
 * APIs and the AWS SDK are used here, so this file also runs in workerd.
 *
 * Puts stream through `@aws-sdk/lib-storage`'s `Upload`: a body of unknown length goes up in `partSizeBytes`
 * parts with at most `queueSize` in flight, so memory stays near `(queueSize + 1) * partSizeBytes` whatever the
 * object's size; a body that fits in one part is a single PutObject. S3 makes an object visible only when its
 * PutObject or CompleteMultipartUpload succeeds, and a failed multipart upload is aborted, so a failed put
 * leaves nothing behind.
 */

import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { ObjectStoreError } from "./errors.ts";
import { createStreamMeter } from "./hashing.ts";
import type { GetResult, ObjectInfo, ObjectStore, PutOptions, PutResult } from "./port.ts";
import { MIN_PART_BYTES, streamedPut } from "./s3-streamed-put.ts";
import { assertValidKey, assertValidPrefix, assertValidRange } from "./validate.ts";

export interface S3StoreOptions {
  /** The service's base URL; leave out for AWS S3 itself. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Both or neither: without them the SDK's default credential chain (environment, shared config, IAM role). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** `https://host/bucket/key` instead of `https://bucket.host/key`: needed by most self-hosted servers. */
  forcePathStyle?: boolean | undefined;
  /**
   * Multipart part size for puts (default 8 MiB, at least 5 MiB). With a body of unknown length, S3's 10,000-part
   * limit caps the object at 10,000 parts of this size (78 GiB at 8 MiB); with `contentLength`, parts grow to fit.
   */
  partSizeBytes?: number | undefined;
  /** Parts of one put in flight at once (default 4). */
  queueSize?: number | undefined;
}

/** The S3 adapter, with its client and bucket exposed for operational code and tests. */
export interface S3Store extends ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
}

const MIB = 1024 * 1024;
const MAX_PARTS = 10_000;
/** SigV4's longest presigned lifetime (7 days). */
const MAX_PRESIGN_SECONDS = 604_800;

export function createS3Store(options: S3StoreOptions): S3Store {
  const { bucket } = options;
  const partSizeBytes = options.partSizeBytes ?? 8 * MIB;
  const queueSize = options.queueSize ?? 4;
  if (!Number.isSafeInteger(partSizeBytes) || partSizeBytes < MIN_PART_BYTES) {
    throw new ObjectStoreError("invalid_argument", `partSizeBytes must be an integer >= ${MIN_PART_BYTES} (5 MiB).`);
  }
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    throw new ObjectStoreError("invalid_argument", "accessKeyId and secretAccessKey go together (or leave both out).");
  }
  if (!Number.isSafeInteger(queueSize) || queueSize < 1) {
    throw new ObjectStoreError("invalid_argument", "queueSize must be an integer >= 1.");
  }
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.accessKeyId !== undefined &&
      options.secretAccessKey !== undefined && {
        credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      }),
    // The SDK's default flexible checksums make s3rver silently store a corrupted streamed PutObject, and several
    // S3-compatible services reject them; the sha256 computed here is the integrity check that matters.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });

  async function put(key: string, body: ReadableStream<Uint8Array>, putOptions?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    const contentLength = putOptions?.contentLength;
    const meter = createStreamMeter(contentLength);
    // Aborting the pipe cancels the caller's stream when the upload fails for a reason of its own (network, auth).
    const pipeAbort = new AbortController();
    let bodyError: unknown;
    const piping = body.pipeTo(meter.transform.writable, { signal: pipeAbort.signal }).catch((err: unknown) => {
      bodyError ??= err;
    });
    const atLeast = putOptions?.lengthAtLeast;
    const upload = (): Promise<unknown> => {
      const contentType = putOptions?.contentType;
      if (contentLength === undefined && atLeast !== undefined && atLeast >= MIN_PART_BYTES) {
        const input = { client, bucket, key, body: meter.transform.readable, atLeast, partSizeBytes, contentType };
        return streamedPut(input);
      }
      return new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: key,
          Body: meter.transform.readable,
          ...(contentType !== undefined && { ContentType: contentType }),
          ...(contentLength !== undefined && { ContentLength: contentLength }),
        },
        partSize: partSizeFor(contentLength),
        queueSize,
        leavePartsOnError: false,
      }).done();
    };
    try {
      await upload();
      await piping;
    } catch (err) {
      pipeAbort.abort(err);
      await piping;
      // When the body failed, report that rather than whatever went wrong cleaning up after it (the Upload rethrows
      // a failed AbortMultipartUpload instead, and s3rver has no AbortMultipartUpload).
      throw bodyError ?? err;
    }
    return { key, ...meter.result() };
  }

  function partSizeFor(contentLength: number | undefined): number {
    if (contentLength === undefined) return partSizeBytes;
    return Math.max(partSizeBytes, Math.ceil(contentLength / MAX_PARTS / MIB) * MIB);
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        key,
        bytes: out.ContentLength ?? 0,
        ...(out.ContentType !== undefined && { contentType: out.ContentType }),
      };
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  async function get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null> {
    assertValidKey(key);
    if (range) assertValidRange(range);
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) return emptyIfExists(key);
    const rangeHeader =
      start === 0 && end === undefined ? undefined : `bytes=${start}-${end === undefined ? "" : end - 1}`;
    let out: GetObjectCommandOutput;
    try {
      out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: rangeHeader }));
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      // 416: the range starts at or past the end of an object that exists.
      if (httpStatus(err) === 416) return emptyIfExists(key);
      throw err;
    }
    if (!out.Body) throw new Error(`GetObject ${key} returned no body.`);
    const contentType = out.ContentType !== undefined ? { contentType: out.ContentType } : {};
    let body = out.Body.transformToWebStream() as ReadableStream<Uint8Array>;
    let bytes = out.ContentLength ?? 0;
    if (rangeHeader !== undefined) {
      // Some servers answer a range with more than was asked for (s3rver returns the whole object for
      // "bytes=0-0"); cut what came back down to what was asked for.
      const servedStart = firstServedByte(out.ContentRange);
      const skip = start - servedStart;
      const take = Math.min(servedStart + bytes, end ?? Number.POSITIVE_INFINITY) - start;
      if (skip < 0 || take < 0) {
        await body.cancel();
        throw new Error(`GetObject ${key} answered ${rangeHeader} with ${out.ContentRange ?? "the whole object"}.`);
      }
      if (skip > 0 || take < bytes) {
        body = body.pipeThrough(sliceBytes(skip, take));
        bytes = take;
      }
    }
    return { key, bytes, ...contentType, body };
  }

  async function emptyIfExists(key: string): Promise<GetResult | null> {
    const info = await head(key);
    if (!info) return null;
    return { ...info, bytes: 0, body: new ReadableStream({ start: (controller) => controller.close() }) };
  }

  async function presign(key: string, method: "GET" | "PUT", expiresInSeconds: number): Promise<string> {
    assertValidKey(key);
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new ObjectStoreError(
        "invalid_argument",
        `expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_SECONDS}.`,
      );
    }
    const command =
      method === "GET"
        ? new GetObjectCommand({ Bucket: bucket, Key: key })
        : new PutObjectCommand({ Bucket: bucket, Key: key });
    return getSignedUrl(client, command, { expiresIn: expiresInSeconds });
  }

  return {
    kind: "s3",
    client,
    bucket,
    put,
    get,
    head,
    async delete(key: string): Promise<void> {
      assertValidKey(key);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      assertValidPrefix(prefix);
      const pages = paginateListObjectsV2({ client }, { Bucket: bucket, ...(prefix !== "" && { Prefix: prefix }) });
      for await (const page of pages) {
        for (const item of page.Contents ?? []) {
          if (item.Key !== undefined) yield { key: item.Key, bytes: item.Size ?? 0 };
        }
      }
    },
    presign,
  };
}

/** The SDK's way of saying "no such object" (GetObject says NoSuchKey; HeadObject, having no body, NotFound). */
function isNoSuchKey(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "NoSuchKey" || name === "NotFound" || (name !== "NoSuchBucket" && httpStatus(err) === 404);
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** The first byte offset a ranged GET actually served, from its Content-Range (`bytes 0-9/100`); 0 without one. */
function firstServedByte(contentRange: string | undefined): number {
  const match = contentRange?.match(/^bytes (\d+)-\d+\/(?:\d+|\*)$/);
  return match ? Number(match[1]) : 0;
}

/** Passes on `take` bytes after skipping `skip`, then ends the stream (which cancels the source). */
function sliceBytes(skip: number, take: number): TransformStream<Uint8Array, Uint8Array> {
  let position = 0;
  return new TransformStream({
    transform(chunk, controller) {
      const from = Math.max(0, skip - position);
      const to = Math.min(chunk.byteLength, skip + take - position);
      position += chunk.byteLength;
      if (to > from) controller.enqueue(chunk.subarray(from, to));
      if (position >= skip + take) controller.terminate();
    },
  });
}
