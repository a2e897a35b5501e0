/**
 * Server-side compose for the S3 adapter: one multipart upload whose parts are UploadPartCopy's of the sources,
 * so the bytes never pass through this process. S3 wants every part but the last to be 5 MiB to 5 GiB; a plan
 * that cannot meet that returns null and the adapter streams instead.
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { ObjectStoreError } from "./errors.ts";
import type { ObjectInfo } from "./port.ts";

const MIB = 1024 * 1024;
const MIN_PART_BYTES = 5 * MIB;
const MAX_PART_BYTES = 5 * 1024 * MIB;
const MAX_PARTS = 10_000;
const COPY_CONCURRENCY = 4;

/** One UploadPartCopy: bytes `[start, end)` of `key`; `whole` when that is the entire object. */
export interface CopyPart {
  key: string;
  start: number;
  end: number;
  whole: boolean;
}

/**
 * The parts for composing `sources`, or null when S3's part rules rule it out (a source other than the last one
 * under 5 MiB, or more than 10,000 parts). Empty sources are skipped; a source over 5 GiB is split evenly.
 */
export function planCopyParts(sources: ObjectInfo[]): CopyPart[] | null {
  const nonEmpty = sources.filter((source) => source.bytes > 0);
  if (nonEmpty.length === 0) return null;
  if (nonEmpty.slice(0, -1).some((source) => source.bytes < MIN_PART_BYTES)) return null;
  const parts: CopyPart[] = [];
  for (const { key, bytes } of nonEmpty) {
    const pieces = Math.ceil(bytes / MAX_PART_BYTES);
    const pieceBytes = Math.ceil(bytes / pieces);
    for (let start = 0; start < bytes; start += pieceBytes) {
      parts.push({ key, start, end: Math.min(start + pieceBytes, bytes), whole: pieces === 1 });
    }
  }
  return parts.length <= MAX_PARTS ? parts : null;
}

/** Thrown when a server takes an UploadPartCopy but answers without the copied part's ETag (fauxqs 1.9). */
class CopiedNothingError extends Error {
  override readonly name = "CopiedNothingError";
}

/**
 * What a failed UploadPartCopy compose means for the next attempt. `unsupported`: the server has no
 * UploadPartCopy (501 NotImplemented as s3rver answers, or a reply without the part's ETag), so stream from now
 * on. `retry-by-streaming`: a server error after the SDK's retries (fauxqs 1.9 answers 500 to every
 * UploadPartCopy; a proxy's 502 looks the same), so stream this once, since streaming is always correct.
 * `fatal`: anything else (a missing source, access denied) is the caller's to see.
 */
export function classifyCopyFailure(err: unknown): "unsupported" | "retry-by-streaming" | "fatal" {
  const { name, $metadata } = (err ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode ?? 0;
  if (err instanceof CopiedNothingError || name === "NotImplemented" || status === 501) return "unsupported";
  if (status >= 500) return "retry-by-streaming";
  return "fatal";
}

export interface ComposeByCopyInput {
  client: S3Client;
  bucket: string;
  target: string;
  /** The sources in order, as HeadObject just saw them. */
  sources: ObjectInfo[];
  contentType: string | undefined;
}

/**
 * Composes with UploadPartCopy; null when the sources cannot be copied part by part (the caller streams then).
 * On failure the multipart upload is aborted and the error rethrown.
 */
export async function composeByCopy(input: ComposeByCopyInput): Promise<ObjectInfo | null> {
  const { client, bucket, target, sources, contentType } = input;
  const plan = planCopyParts(sources);
  if (!plan) return null;
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: target,
      ...(contentType !== undefined && { ContentType: contentType }),
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`CreateMultipartUpload for ${target} returned no UploadId.`);
  try {
    const etags = await mapWithConcurrency(plan, COPY_CONCURRENCY, async (part, index) => {
      const out = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: target,
          UploadId: uploadId,
          PartNumber: index + 1,
          CopySource: copySource(bucket, part.key),
          ...(!part.whole && { CopySourceRange: `bytes=${part.start}-${part.end - 1}` }),
        }),
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) throw new CopiedNothingError(`UploadPartCopy of ${part.key} into ${target} returned no ETag.`);
      return etag;
    });
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: target,
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
      }),
    );
  } catch (err) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: target, UploadId: uploadId }))
      .catch(() => {});
    throw err;
  }
  // A cheap guard against a server that completes a copy it did not do: the size must add up.
  const bytes = sources.reduce((sum, source) => sum + source.bytes, 0);
  const stored = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: target }));
  if (stored.ContentLength !== bytes) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: target })).catch(() => {});
    throw new ObjectStoreError(
      "length_mismatch",
      `compose of ${target} stored ${stored.ContentLength} bytes instead of ${bytes}; the target was removed.`,
    );
  }
  return { key: target, bytes, ...(contentType !== undefined && { contentType }) };
}

/** `bucket/key` with each key segment URL-encoded, as x-amz-copy-source wants it. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** `fn` over `items` with at most `limit` running at once; results in input order; stops starting work on the first failure. */
async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Settle every worker before reporting a failure, so no request is still in flight when the caller cleans up.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = settled.find((outcome) => outcome.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}
