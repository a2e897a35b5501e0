import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createObjectStore, type ObjectStore, ObjectStoreConfig, ObjectStoreError } from "../../storage/index.ts";
import { createLocalStore } from "../../storage/local.ts";
import { describeObjectStoreContract } from "./store-contract.ts";
import { lazySource, randomBytes, readAll, streamOf } from "./streams.ts";

const TMP_DIR = ".rft-tmp";

/** Bytes in the store's temp files: what an unfinished put has written so far. */
async function tempBytes(root: string): Promise<number> {
  const names = await readdir(path.join(root, TMP_DIR)).catch(() => []);
  const sizes = await Promise.all(
    names.map((name) =>
      stat(path.join(root, TMP_DIR, name)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

describeObjectStoreContract("local directory", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "rft-local-store-"));
  return {
    store: createLocalStore(root),
    keepsContentType: false,
    landedBytes: () => tempBytes(root),
    // One 64 KiB chunk being written plus one queued in the hashing transform.
    maxBufferedBytes: 256 * 1024,
    listOrder: "bytes",
    presign: "none",
    stop: () => rm(root, { recursive: true, force: true }),
  };
});

describe("local directory store: the files behind the keys", () => {
  let parent: string;
  let root: string;
  let store: ObjectStore;

  beforeAll(async () => {
    parent = await mkdtemp(path.join(tmpdir(), "rft-local-files-"));
    root = path.join(parent, "store");
    // Through the config factory, as the wiring module builds it.
    store = await createObjectStore(ObjectStoreConfig.parse({ kind: "local", dir: root }));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("stores key a/b/c as the file <root>/a/b/c and leaves no temp file", async () => {
    expect(store.kind).toBe("local");
    await store.put("files/file-abc/data.jsonl", streamOf(new TextEncoder().encode('{"a":1}\n')));
    expect(await readFile(path.join(root, "files/file-abc/data.jsonl"), "utf8")).toBe('{"a":1}\n');
    expect(await readdir(path.join(root, TMP_DIR))).toEqual([]);
  });

  it("writes nothing outside the root for traversal keys, even when they look harmless after joining", async () => {
    const attempts = ["../escaped", "a/../../escaped", "/tmp/escaped", "..\\escaped", `${TMP_DIR}/x`, TMP_DIR];
    for (const key of attempts) {
      await expect(store.put(key, streamOf(randomBytes(4)))).rejects.toBeInstanceOf(ObjectStoreError);
    }
    expect((await readdir(parent)).sort()).toEqual(["store"]);
    await expect(stat("/tmp/escaped")).rejects.toThrow();
  });

  it("keeps the temp folder out of listings", async () => {
    const keys: string[] = [];
    for await (const info of store.list("")) keys.push(info.key);
    expect(keys.some((key) => key.startsWith(TMP_DIR))).toBe(false);
    const dotKeys: string[] = [];
    for await (const info of store.list(".rft")) dotKeys.push(info.key);
    expect(dotKeys).toEqual([]);
  });

  it("removes the temp file of a failed put", async () => {
    const source = lazySource(5_000_000, { failAt: 1_000_000 });
    await expect(store.put("failed/put", source.stream)).rejects.toThrow(/failed on purpose/);
    expect(await readdir(path.join(root, TMP_DIR))).toEqual([]);
    await expect(stat(path.join(root, "failed/put"))).rejects.toThrow();
  });

  it("sweeps temp files that crashed processes left a day ago, on a new store's first write", async () => {
    const leftover = path.join(root, TMP_DIR, "left-by-a-crash");
    const recent = path.join(root, TMP_DIR, "being-written-right-now");
    await writeFile(leftover, "stale");
    await writeFile(recent, "fresh");
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(leftover, twoDaysAgo, twoDaysAgo);
    await createLocalStore(root).put("after-crash", streamOf(randomBytes(3)));
    expect(await readdir(path.join(root, TMP_DIR))).toEqual(["being-written-right-now"]);
    await rm(recent);
  });

  it("refuses a key that is also a folder of other keys with `conflict`, and prunes folders on delete", async () => {
    await store.put("nest/inner/leaf", streamOf(randomBytes(3)));
    const asFolder = await store.put("nest/inner", streamOf(randomBytes(3))).catch((err: unknown) => err);
    expect(asFolder).toBeInstanceOf(ObjectStoreError);
    expect((asFolder as ObjectStoreError).code).toBe("conflict");
    const underFile = await store.put("nest/inner/leaf/deeper", streamOf(randomBytes(3))).catch((err: unknown) => err);
    expect((underFile as ObjectStoreError).code).toBe("conflict");
    expect(await store.head("nest/inner")).toBeNull();
    await store.delete("nest/inner"); // a folder is no object: nothing to delete, no error
    await store.delete("nest/inner/leaf");
    await expect(stat(path.join(root, "nest"))).rejects.toThrow(); // empty folders pruned
    await store.put("nest/inner", streamOf(randomBytes(3))); // so the key is free again
    expect(await readdir(path.join(root, TMP_DIR))).toEqual([]);
  });

  it("a reader keeps the version it opened while a put replaces the object", async () => {
    const first = randomBytes(3 * 1024 * 1024, 1);
    await store.put("versioned", streamOf(first, 1024 * 1024));
    const reading = await store.get("versioned");
    await store.put("versioned", streamOf(randomBytes(10, 2)));
    const body = await readAll(reading!.body);
    expect(Buffer.compare(Buffer.from(body), Buffer.from(first))).toBe(0);
  });

  it("lists a file put there by hand, with its size from disk", async () => {
    await writeFile(path.join(root, "stray.txt"), "hello");
    const infos = [];
    for await (const info of store.list("stray")) infos.push(info);
    expect(infos).toEqual([{ key: "stray.txt", bytes: 5 }]);
  });
});
