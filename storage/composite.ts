/**
 * Composite objects: bytes kept as several objects, read as one. A file that an upload made is kept as the list of
 * its part objects, in order (no copy on complete), and everything that reads or deletes a file's bytes comes here
 * (`openComposite`, `deleteComposite`), so nothing else needs to know whether a file is one object or several.
 * Only Web-standard APIs, so it runs in workerd too.
 *
 * The next part's GET is issued while the current one is still being read, so many small parts cost one round
 * trip of latency, not one each. At most two parts are open at once; memory stays at what the adapters buffer.
 */
import { ObjectStoreError } from "./errors.ts";
import type { GetResult, ObjectStore } from "./port.ts";
import { assertValidRange } from "./validate.ts";

export interface ObjectPart {
  key: string;
  bytes: number;
}

/** The byte ranges of `parts` that cover `[start, end)` of their concatenation. */
function slices(parts: readonly ObjectPart[], start: number, end: number) {
  const out: { key: string; start: number; end: number; size: number }[] = [];
  let offset = 0;
  for (const part of parts) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, part.bytes);
    if (to > from) out.push({ key: part.key, start: from, end: to, size: part.bytes });
    offset += part.bytes;
    if (offset >= end) break;
  }
  return out;
}

/**
 * The concatenation of `parts` (optionally `range`, inclusive-exclusive, of it) as one stream with its length.
 * A part that is missing or shorter than recorded errors the stream with `not_found` / `length_mismatch` rather
 * than quietly returning other bytes.
 */
export function readConcatenated(
  store: ObjectStore,
  parts: readonly ObjectPart[],
  range?: { start: number; end?: number },
): { bytes: number; body: ReadableStream<Uint8Array> } {
  const total = parts.reduce((sum, p) => sum + p.bytes, 0);
  if (range) assertValidRange(range);
  const start = Math.min(range?.start ?? 0, total);
  const end = Math.min(range?.end ?? total, total);
  const todo = slices(parts, start, Math.max(start, end));
  const open = (i: number): Promise<GetResult> | null => {
    const slice = todo[i];
    if (!slice) return null;
    const whole = slice.start === 0 && slice.end === slice.size;
    return store.get(slice.key, whole ? undefined : { start: slice.start, end: slice.end }).then((object) => {
      if (!object) throw new ObjectStoreError("not_found", `Part object ${slice.key} is missing.`);
      return object;
    });
  };

  let index = 0;
  let current: Promise<GetResult> | null = open(0);
  let next: Promise<GetResult> | null = null;
  current?.catch(() => {});
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let readInPart = 0;

  return {
    bytes: Math.max(end - start, 0),
    body: new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          if (!current) {
            controller.close();
            return;
          }
          if (!reader) {
            reader = (await current).body.getReader();
            readInPart = 0;
            // Prefetch: the next part's response headers arrive while this one is read.
            next = open(index + 1);
            next?.catch(() => {});
          }
          const { done, value } = await reader.read();
          if (!done) {
            readInPart += value.byteLength;
            controller.enqueue(value);
            return;
          }
          const slice = todo[index] as (typeof todo)[number];
          if (readInPart !== slice.end - slice.start) {
            throw new ObjectStoreError(
              "length_mismatch",
              `Part object ${slice.key} gave ${readInPart} bytes, expected ${slice.end - slice.start}.`,
            );
          }
          reader = null;
          index += 1;
          current = next;
          next = null;
        }
      },
      async cancel(reason) {
        if (reader) await reader.cancel(reason).catch(() => {});
        else await current?.then((o) => o.body.cancel(reason)).catch(() => {});
        await next?.then((o) => o.body.cancel(reason)).catch(() => {});
      },
    }),
  };
}

/** Where some bytes live: one object (`objectKey`), or `parts` in order when set (then `objectKey` names none). */
export interface CompositeRef {
  objectKey: string;
  bytes: number;
  parts?: ObjectPart[] | null | undefined;
}

/** The objects that hold the bytes, in order. */
export function compositeObjects(ref: CompositeRef): ObjectPart[] {
  return ref.parts && ref.parts.length > 0 ? ref.parts : [{ key: ref.objectKey, bytes: ref.bytes }];
}

/** The bytes (or `range` of them) as one stream; `null` when the object (or the first part) is gone. */
export async function openComposite(
  store: ObjectStore,
  ref: CompositeRef,
  range?: { start: number; end?: number },
): Promise<{ bytes: number; body: ReadableStream<Uint8Array>; contentType?: string | undefined } | null> {
  if (!ref.parts || ref.parts.length === 0) return store.get(ref.objectKey, range);
  // A missing part would otherwise surface only mid-stream, after a 200 went out: check the first one up front.
  if (!(await store.head((ref.parts[0] as ObjectPart).key))) return null;
  return readConcatenated(store, ref.parts, range);
}

/** Deletes every object; a missing one is not an error. Tries them all, then throws the first failure. */
export async function deleteComposite(store: Pick<ObjectStore, "delete">, ref: CompositeRef): Promise<void> {
  const objects = compositeObjects(ref);
  const CONCURRENCY = 8;
  let failure: unknown = null;
  for (let i = 0; i < objects.length; i += CONCURRENCY) {
    const results = await Promise.allSettled(objects.slice(i, i + CONCURRENCY).map((o) => store.delete(o.key)));
    for (const r of results) if (r.status === "rejected") failure ??= r.reason;
  }
  if (failure) throw failure;
}
