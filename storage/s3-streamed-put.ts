/**
 * A multipart put that streams instead of buffering, for a body whose exact length is unknown but of which at least
 * `atLeast` bytes are sure to come (an upload part: the request's Content-Length less the multipart framing).
 *
 * lib-storage's `Upload` must buffer every part of a body of unknown length (S3 needs each part's length up front):
 * `(queueSize + 1) * partSize` bytes per put, plus a copy to join the chunks, plus the SDK hashing each buffer to
 * sign it. Here the sure prefix goes up as parts of known length streamed straight from the body (signed
 * `UNSIGNED-PAYLOAD`; the caller's sha256 is the integrity check), one after the other, and only the rest, at most
 * `partSize` at a time, is buffered. A body that ends before `atLeast` bytes fails with `length_mismatch` and leaves nothing.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ObjectStoreError } from "./errors.ts";

const MIB = 1024 * 1024;
/** S3's smallest part (all but the last) and largest part. */
export const MIN_PART_BYTES = 5 * MIB;

interface NodeStreamLike {
  Readable: { fromWeb(stream: ReadableStream<Uint8Array>): unknown };
}

// The SDK's Node HTTP handler streams only a Node Readable (a Web stream it would not send); its fetch handler
// (workerd) takes the Web stream as it is. Reached without a static `node:` import, as in hashing.ts.
const nodeStream: NodeStreamLike | undefined = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.("node:stream") as Partial<NodeStreamLike> | undefined;
    return typeof mod?.Readable?.fromWeb === "function" ? (mod as NodeStreamLike) : undefined;
  } catch {
    return undefined;
  }
})();

/** Reads a body in pieces of exact sizes, keeping what a chunk brought past a piece's end for the next one. */
class PieceReader {
  private carry: Uint8Array | null = null;
  private ended = false;
  /** Why the body failed (it errored, or ended short): reported instead of the failed request's own error. */
  failure: unknown = null;
  /**
   * Called when the body fails mid-part. The SDK's Node handler pipes the part into the request, and a pipe does
   * not end its destination when the source errors: the request must be aborted, or it waits forever.
   */
  onFail: (() => void) | null = null;
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  private async next(max: number): Promise<Uint8Array | null> {
    let chunk = this.carry;
    this.carry = null;
    if (!chunk) {
      if (this.ended) return null;
      const read = await this.reader.read();
      if (read.done) {
        this.ended = true;
        return null;
      }
      chunk = read.value;
    }
    if (chunk.byteLength > max) {
      this.carry = chunk.subarray(max);
      return chunk.subarray(0, max);
    }
    return chunk;
  }

  /**
   * Exactly the next `n` bytes, as a stream read only as fast as it is consumed; errors if the body ends first.
   * `handedOver` resolves once all `n` bytes are in the stream: the next piece may start then.
   */
  exactly(n: number): { stream: ReadableStream<Uint8Array>; handedOver: Promise<void> } {
    let left = n;
    let handOver = () => {};
    const handedOver = new Promise<void>((resolve) => {
      handOver = resolve;
    });
    const stream = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (left === 0) {
            controller.close();
            return;
          }
          let chunk: Uint8Array | null;
          try {
            chunk = await this.next(left);
            if (!chunk) {
              throw new ObjectStoreError(
                "length_mismatch",
                `The body ended ${left} bytes before the length it promised.`,
              );
            }
          } catch (err) {
            this.failure ??= err;
            this.onFail?.();
            throw err;
          }
          left -= chunk.byteLength;
          controller.enqueue(chunk);
          if (left === 0) {
            controller.close();
            handOver();
          }
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, handedOver };
  }

  /** Up to `n` bytes in one buffer; shorter only at the end of the body, empty once it has ended. */
  async upTo(n: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.next(n - have);
      if (!chunk) break;
      chunks.push(chunk);
      have += chunk.byteLength;
    }
    if (chunks.length === 1) return chunks[0] as Uint8Array;
    const out = new Uint8Array(have);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }
}

export interface StreamedPutInput {
  client: S3Client;
  bucket: string;
  key: string;
  body: ReadableStream<Uint8Array>;
  /** Bytes the body is sure to have; at least `MIN_PART_BYTES`. */
  atLeast: number;
  /** Size of the buffered parts after the sure prefix. */
  partSizeBytes: number;
  contentType?: string | undefined;
}

/**
 * Sizes of about `partSize` that cover `total` bytes, each at least 5 MiB (S3's minimum for a part that is not the
 * last), as equal as they come: 64 MiB in 8 MiB parts is 8 parts; 9 MiB is one part of 9 MiB.
 */
export function prefixParts(total: number, partSize: number): number[] {
  let n = Math.max(1, Math.ceil(total / partSize));
  while (n > 1 && Math.floor(total / n) < MIN_PART_BYTES) n -= 1;
  const base = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => base + (i < total - base * n ? 1 : 0));
}

export async function streamedPut(input: StreamedPutInput): Promise<void> {
  const { client, bucket, key } = input;
  if (input.atLeast < MIN_PART_BYTES) throw new ObjectStoreError("invalid_argument", "atLeast must be >= 5 MiB.");
  const reader = input.body.getReader();
  const pieces = new PieceReader(reader);
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ...(input.contentType !== undefined && { ContentType: input.contentType }),
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`CreateMultipartUpload ${key} returned no UploadId.`);
  const done: { PartNumber: number; ETag: string }[] = [];
  let partNumber = 0;
  // Every open part request is aborted when the body fails mid-part.
  const aborts = new Set<AbortController>();
  pieces.onFail = () => {
    for (const abort of aborts) abort.abort(pieces.failure);
  };
  const send = async (body: ReadableStream<Uint8Array> | Uint8Array, length: number) => {
    partNumber += 1;
    const number = partNumber;
    const streamed = body instanceof ReadableStream && nodeStream ? nodeStream.Readable.fromWeb(body) : body;
    // The failure is reported through `pieces.failure` and the aborted request; a Node stream's unheard 'error'
    // would crash the process.
    (streamed as { on?: (event: string, listener: () => void) => void }).on?.("error", () => {});
    const abort = new AbortController();
    aborts.add(abort);
    try {
      const out = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: number,
          Body: streamed as Uint8Array,
          ContentLength: length,
        }),
        { abortSignal: abort.signal },
      );
      if (!out.ETag) throw new Error(`UploadPart ${number} of ${key} returned no ETag.`);
      done.push({ PartNumber: number, ETag: out.ETag });
    } finally {
      aborts.delete(abort);
    }
  };
  try {
    // The sure prefix: the next part starts streaming as soon as this one's bytes are all handed over, while this
    // one waits for its answer (at most two requests open), so the body never stalls between parts.
    const open: Promise<void>[] = [];
    for (const size of prefixParts(input.atLeast, input.partSizeBytes)) {
      const piece = pieces.exactly(size);
      const sending = send(piece.stream, size);
      sending.catch(() => {});
      open.push(sending);
      await Promise.race([piece.handedOver, sending]);
      if (open.length >= 2) await open[open.length - 2];
    }
    await Promise.all(open);
    // The rest: each buffered part is full-sized but the last, as S3 requires.
    for (;;) {
      const rest = await pieces.upTo(input.partSizeBytes);
      if (rest.byteLength === 0) break;
      await send(rest, rest.byteLength);
      if (rest.byteLength < input.partSizeBytes) break;
    }
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done.sort((a, b) => a.PartNumber - b.PartNumber) },
      }),
    );
  } catch (err) {
    // The body's own failure first; otherwise the request's (cancelling the body below makes the part still
    // streaming fail too, which is not the cause).
    const reason = pieces.failure ?? err;
    for (const abort of aborts) abort.abort(reason);
    await reader.cancel(reason).catch(() => {});
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => {});
    throw reason;
  }
}
