/** Byte sources and sinks for the object store tests: deterministic pseudo-random bytes, produced lazily. */

import { createHash } from "node:crypto";

const CHUNK_BYTES = 64 * 1024;

/** `length` pseudo-random bytes from `seed` (xorshift32): the same seed gives the same bytes. */
export function randomBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A stream of `bytes` cut into chunks of `chunkBytes` (odd sizes catch adapters that assume aligned chunks). */
export function streamOf(bytes: Uint8Array, chunkBytes = 7_919): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

export interface LazySource {
  stream: ReadableStream<Uint8Array>;
  /** Bytes handed out so far. */
  produced(): number;
  /** sha256 of everything handed out; valid once the stream is done. */
  sha256(): string;
}

/**
 * `totalBytes` of pseudo-random bytes made on demand, a chunk per pull, with no length announced: the way an
 * upload arrives from a client. `beforePull` runs before each chunk is made (for backpressure checks); `failAt`
 * makes the stream error once that many bytes are out (a client that disconnects midway).
 */
export function lazySource(
  totalBytes: number,
  options: { beforePull?: (produced: number) => Promise<void> | void; failAt?: number } = {},
): LazySource {
  const hash = createHash("sha256");
  let produced = 0;
  let seed = 7;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        await options.beforePull?.(produced);
        if (options.failAt !== undefined && produced >= options.failAt) {
          controller.error(new Error(`source failed on purpose after ${produced} bytes`));
          return;
        }
        if (produced >= totalBytes) {
          controller.close();
          return;
        }
        const chunk = randomBytes(Math.min(CHUNK_BYTES, totalBytes - produced), seed++);
        hash.update(chunk);
        produced += chunk.byteLength;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  let digest: string | undefined;
  return { stream, produced: () => produced, sha256: () => (digest ??= hash.digest("hex")) };
}

/** Reads a stream to the end into memory: for small objects only. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a stream to the end without keeping it: its length and sha256. */
export async function hashStream(stream: ReadableStream<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes, sha256: hash.digest("hex") };
    hash.update(value);
    bytes += value.byteLength;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
