/**
 * The object store on a local directory: the embedded default on Node. Key `a/b/c` is the file `<root>/a/b/c`, so
 * an operator can read the store with `ls`. Writes go to a temp file under `<root>/.rft-tmp/` (same file system,
 * so the final rename is atomic) and are renamed into place only once complete and flushed to disk.
 *
 * Limits that S3 does not have: a key cannot also be a folder of other keys (`a` and `a/b` cannot both exist;
 * such a put fails with `conflict`), no content type is kept, and `presign` returns null.
 */

import { randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { ObjectStoreError } from "./errors.ts";
import { createStreamMeter } from "./hashing.ts";
import type { GetResult, ObjectInfo, ObjectStore, PutOptions, PutResult } from "./port.ts";
import { assertValidKey, assertValidPrefix, assertValidRange, clampRange } from "./validate.ts";

/** Temp files live here, inside the root; this first segment is reserved and never listed. */
const TMP_DIR = ".rft-tmp";
/** Temp files older than this are leftovers of a crashed process; a live write touches its file far more often. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;
const READ_CHUNK_BYTES = 256 * 1024;
const _COPY_CHUNK_BYTES = 1024 * 1024;

/** An object store on the directory `rootDir` (created on first write). Node only. */
export function createLocalStore(rootDir: string): ObjectStore {
  const root = path.resolve(rootDir);
  const tmpRoot = path.join(root, TMP_DIR);

  function pathFor(key: string): string {
    assertValidKey(key);
    if (key === TMP_DIR || key.startsWith(`${TMP_DIR}/`)) {
      throw new ObjectStoreError("invalid_key", `Invalid object key ${JSON.stringify(key)}: ${TMP_DIR}/ is reserved.`);
    }
    const file = path.join(root, ...key.split("/"));
    // assertValidKey already rules out every escape; this is the second lock on the same door.
    if (!file.startsWith(root + path.sep)) {
      throw new ObjectStoreError("invalid_key", `Invalid object key ${JSON.stringify(key)}: it leaves the store.`);
    }
    return file;
  }

  // Once per store, on its first write: remove what crashed processes left in the temp folder.
  let sweep: Promise<void> | undefined;
  async function sweepStaleTemps(): Promise<void> {
    const names = await readdir(tmpRoot).catch(() => [] as string[]);
    for (const name of names) {
      const file = path.join(tmpRoot, name);
      const stats = await stat(file).catch(() => null);
      if (stats && Date.now() - stats.mtimeMs > STALE_TEMP_MS) await unlink(file).catch(() => {});
    }
  }

  /** Creates a temp file, lets `fill` write it, flushes it to disk; on any failure the temp file is gone. */
  async function writeTemp(fill: (file: FileHandle) => Promise<void>): Promise<string> {
    await mkdir(tmpRoot, { recursive: true });
    sweep ??= sweepStaleTemps();
    await sweep;
    const tmp = path.join(tmpRoot, randomUUID());
    const file = await open(tmp, "wx");
    try {
      await fill(file);
      await file.datasync();
      await file.close();
    } catch (err) {
      await file.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return tmp;
  }

  /** Renames a finished temp file onto the key's path, the moment the object becomes visible. */
  async function commit(tmp: string, file: string, key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(path.dirname(file), { recursive: true });
        await rename(tmp, file);
        return;
      } catch (err) {
        // A concurrent delete may prune the parent folder between mkdir and rename: make it again.
        if (errorCode(err) === "ENOENT" && attempt < 3) continue;
        await unlink(tmp).catch(() => {});
        if (["ENOTDIR", "EEXIST", "EISDIR", "ENOTEMPTY"].includes(errorCode(err) ?? "")) {
          throw new ObjectStoreError(
            "conflict",
            `Key ${JSON.stringify(key)} clashes with another key on the local store: one key cannot also be a folder of others.`,
            { cause: err },
          );
        }
        throw err;
      }
    }
  }

  /** Removes folders left empty by a delete, up to (not including) the root. */
  async function pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(root + path.sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
      dir = path.dirname(dir);
    }
  }

  async function* walk(dir: string, keyPrefix: string, namePrefix: string): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    // Sorting folders as "name/" makes this depth-first walk yield keys in the byte order S3 lists them in.
    const kept = entries
      .filter((entry) => entry.name.startsWith(namePrefix) && (entry.isFile() || entry.isDirectory()))
      .filter((entry) => !(keyPrefix === "" && entry.name === TMP_DIR))
      .map((entry) => ({ entry, sortKey: Buffer.from(entry.isDirectory() ? `${entry.name}/` : entry.name) }))
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const { entry } of kept) {
      const key = keyPrefix + entry.name;
      const entryPath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        yield* walk(entryPath, `${key}/`, "");
        continue;
      }
      const stats = await stat(entryPath).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
      if (stats?.isFile()) yield { key, bytes: stats.size };
    }
  }

  return {
    kind: "local",

    async put(key: string, body: ReadableStream<Uint8Array>, options?: PutOptions): Promise<PutResult> {
      const file = pathFor(key);
      const meter = createStreamMeter(options?.contentLength);
      const tmp = await writeTemp(async (out) => {
        const reader = body.pipeThrough(meter.transform).getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            await writeAll(out, value);
          }
        } catch (err) {
          // A failed write must stop the producer too; on a failed read this is a no-op.
          await reader.cancel(err).catch(() => {});
          throw err;
        }
      });
      await commit(tmp, file, key);
      return { key, ...meter.result() };
    },

    async get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null> {
      const file = pathFor(key);
      if (range) assertValidRange(range);
      const handle = await openObject(file);
      if (!handle) return null;
      const { size } = await handle.stat();
      const { start, end } = clampRange(range, size);
      return { key, bytes: end - start, body: fileStream(handle, start, end) };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      const file = pathFor(key);
      const stats = await stat(file).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
      return stats?.isFile() ? { key, bytes: stats.size } : null;
    },

    async delete(key: string): Promise<void> {
      const file = pathFor(key);
      try {
        await unlink(file);
      } catch (err) {
        // EISDIR/EPERM: the key names a folder of other keys, so there is no object to delete.
        if (isMissing(err) || errorCode(err) === "EISDIR" || errorCode(err) === "EPERM") return;
        throw err;
      }
      await pruneEmptyParents(path.dirname(file));
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      assertValidPrefix(prefix);
      const slash = prefix.lastIndexOf("/");
      const folderKey = prefix.slice(0, Math.max(slash, 0));
      const folder = folderKey === "" ? root : path.join(root, ...folderKey.split("/"));
      if (folderKey === TMP_DIR || folderKey.startsWith(`${TMP_DIR}/`)) return;
      yield* walk(folder, folderKey === "" ? "" : `${folderKey}/`, prefix.slice(slash + 1));
    },

    async presign(key: string): Promise<string | null> {
      pathFor(key);
      return null;
    },
  };
}

/** Opens a regular file for reading, or `null` when there is no object at that path. */
async function openObject(file: string): Promise<FileHandle | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    if (isMissing(err) || errorCode(err) === "EISDIR") return null;
    throw err;
  }
  if ((await handle.stat()).isFile()) return handle;
  await handle.close();
  return null;
}

/**
 * Bytes `[start, end)` of an open file as a pull-driven Web stream: one read per pull, so a slow consumer holds
 * the disk back instead of filling memory. Reading the already-open handle means a concurrent put (a rename
 * onto the path) cannot mix two versions of the object.
 */
function fileStream(handle: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let position = start;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const want = Math.min(READ_CHUNK_BYTES, end - position);
        if (want <= 0) {
          await handle.close();
          controller.close();
          return;
        }
        const buffer = new Uint8Array(want);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        if (bytesRead === 0) throw new Error(`The file shrank while being read (at byte ${position} of ${end}).`);
        position += bytesRead;
        controller.enqueue(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
      } catch (err) {
        await handle.close().catch(() => {});
        controller.error(err);
      }
    },
    async cancel() {
      await handle.close();
    },
  });
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

function isMissing(err: unknown): boolean {
  return errorCode(err) === "ENOENT" || errorCode(err) === "ENOTDIR";
}
