/**
 * The object store contract: what every adapter of `storage/port.ts` must do, as one suite that each adapter's
 * test file runs against a real backend (`describeObjectStoreContract("local", setup)`).
 */

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteComposite, openComposite, readConcatenated } from "../../storage/composite.ts";
import { type ObjectStore, ObjectStoreError } from "../../storage/index.ts";
import { concatBytes, hashStream, lazySource, randomBytes, readAll, sha256Hex, streamOf } from "./streams.ts";

export interface ContractTarget {
  store: ObjectStore;
  /** Whether head and get give back the contentType that put was given. */
  keepsContentType: boolean;
  /** A count that grows as the bytes of a put in progress reach the backend (the streaming check reads it). */
  landedBytes(): Promise<number> | number;
  /** The most bytes a put may have read from its body that have not landed: the adapter's own buffering. */
  maxBufferedBytes: number;
  /** Whether list yields keys in byte order, as S3 promises; s3rver lists folder by folder ("unordered"). */
  listOrder: "bytes" | "unordered";
  /** "none": presign gives null; "unchecked": URLs work, signatures not checked; "checked": a tampered URL fails. */
  presign: "none" | "unchecked" | "checked";
  stop(): Promise<void>;
}

const MIB = 1024 * 1024;
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export function describeObjectStoreContract(name: string, setup: () => Promise<ContractTarget>): void {
  describe(`object store contract: ${name}`, () => {
    let target: ContractTarget;
    let store: ObjectStore;
    const run = `contract-${randomUUID().slice(0, 8)}`;
    const key = (suffix: string) => `${run}/${suffix}`;

    beforeAll(async () => {
      target = await setup();
      store = target.store;
    });
    afterAll(async () => {
      await target?.stop();
    });

    async function expectObject(objectKey: string, bytes: Uint8Array): Promise<void> {
      const got = await store.get(objectKey);
      expect(got, `${objectKey} should exist`).not.toBeNull();
      expect(got?.bytes).toBe(bytes.byteLength);
      const body = await readAll(got!.body);
      expect(body.byteLength).toBe(bytes.byteLength);
      expect(sha256Hex(body)).toBe(sha256Hex(bytes));
    }

    async function expectStoreError(promise: Promise<unknown>, code: ObjectStoreError["code"]): Promise<void> {
      const err = await promise.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(err, `expected an ObjectStoreError with code ${code}`).toBeInstanceOf(ObjectStoreError);
      expect((err as ObjectStoreError).code).toBe(code);
    }

    it("put then get returns the same bytes, with their length and sha256", async () => {
      const bytes = randomBytes(100_003, 11);
      const put = await store.put(key("roundtrip.jsonl"), streamOf(bytes), { contentType: "application/jsonl" });
      expect(put).toEqual({ key: key("roundtrip.jsonl"), bytes: bytes.byteLength, sha256: sha256Hex(bytes) });
      await expectObject(key("roundtrip.jsonl"), bytes);
      const info = await store.head(key("roundtrip.jsonl"));
      expect(info?.bytes).toBe(bytes.byteLength);
      expect(info?.key).toBe(key("roundtrip.jsonl"));
      if (target.keepsContentType) expect(info?.contentType).toBe("application/jsonl");
    });

    it("an empty object round-trips", async () => {
      const put = await store.put(key("empty"), streamOf(new Uint8Array(0)));
      expect(put).toEqual({ key: key("empty"), bytes: 0, sha256: EMPTY_SHA256 });
      await expectObject(key("empty"), new Uint8Array(0));
    });

    it("put overwrites an existing key; contentLength, when given, is checked", async () => {
      await store.put(key("overwrite"), streamOf(randomBytes(5000, 1)));
      const second = randomBytes(300, 2);
      await store.put(key("overwrite"), streamOf(second), { contentLength: second.byteLength });
      await expectObject(key("overwrite"), second);
    });

    it("streams a 30 MB body of unknown length without buffering it", async () => {
      const totalBytes = 30 * 1000 * 1000;
      const baseline = await target.landedBytes();
      let maxUnlanded = 0;
      const source = lazySource(totalBytes, {
        beforePull: async (produced) => {
          const landed = (await target.landedBytes()) - baseline;
          maxUnlanded = Math.max(maxUnlanded, produced - landed);
        },
      });
      const started = performance.now();
      const put = await store.put(key("big/stream.bin"), source.stream);
      const putMs = performance.now() - started;
      expect(put.bytes).toBe(totalBytes);
      expect(put.sha256).toBe(source.sha256());
      // A put that buffered the body would have read all 30 MB before any of it landed.
      expect(maxUnlanded).toBeLessThanOrEqual(target.maxBufferedBytes);
      const got = await store.get(key("big/stream.bin"));
      expect(got?.bytes).toBe(totalBytes);
      expect(await hashStream(got!.body)).toEqual({ bytes: totalBytes, sha256: source.sha256() });
      console.info(
        `${name}: 30 MB put in ${Math.round(putMs)} ms, at most ${(maxUnlanded / MIB).toFixed(1)} MiB unlanded`,
      );
    });

    it("get serves byte ranges [start, end), clamped to the object", async () => {
      const bytes = randomBytes(1000, 3);
      await store.put(key("ranges"), streamOf(bytes));
      const cases: Array<[{ start: number; end?: number }, number, number]> = [
        [{ start: 0, end: 1 }, 0, 1],
        [{ start: 10, end: 20 }, 10, 20],
        [{ start: 990 }, 990, 1000],
        [{ start: 0 }, 0, 1000],
        [{ start: 999, end: 1000 }, 999, 1000],
        [{ start: 500, end: 5000 }, 500, 1000],
      ];
      for (const [range, from, to] of cases) {
        const got = await store.get(key("ranges"), range);
        const body = await readAll(got!.body);
        expect({ range, bytes: got?.bytes, body: sha256Hex(body) }).toEqual({
          range,
          bytes: to - from,
          body: sha256Hex(bytes.subarray(from, to)),
        });
      }
    });

    it("a range that selects nothing gives an empty body; a bad range is refused", async () => {
      await store.put(key("ranges-empty"), streamOf(randomBytes(100, 4)));
      for (const range of [{ start: 100 }, { start: 5000 }, { start: 5, end: 5 }, { start: 50, end: 10 }]) {
        const got = await store.get(key("ranges-empty"), range);
        expect(got?.bytes, JSON.stringify(range)).toBe(0);
        expect((await readAll(got!.body)).byteLength).toBe(0);
      }
      expect(await store.get(key("no-such-object"), { start: 5, end: 10 })).toBeNull();
      await expectStoreError(store.get(key("ranges-empty"), { start: -1 }), "invalid_argument");
      await expectStoreError(store.get(key("ranges-empty"), { start: 1.5 }), "invalid_argument");
    });

    it("head and get of a missing key give null", async () => {
      expect(await store.head(key("missing"))).toBeNull();
      expect(await store.get(key("missing"))).toBeNull();
      expect(await store.head(key("missing/deeper/still"))).toBeNull();
    });

    it("delete is idempotent", async () => {
      await store.delete(key("never-existed"));
      await store.put(key("doomed/file"), streamOf(randomBytes(10)));
      await store.delete(key("doomed/file"));
      expect(await store.head(key("doomed/file"))).toBeNull();
      await store.delete(key("doomed/file"));
    });

    it("list yields the keys under a prefix in byte order, with their sizes", async () => {
      const sizes: Record<string, number> = { "p/bz": 4, "p/b/c": 3, "p/a": 1, "p/b-d": 2, "q/x": 5, p0: 6 };
      for (const [suffix, size] of Object.entries(sizes)) await store.put(key(suffix), streamOf(randomBytes(size)));
      const list = async (prefix: string) => {
        const keys: Array<[string, number]> = [];
        for await (const info of store.list(prefix)) keys.push([info.key, info.bytes]);
        return target.listOrder === "bytes" ? keys : keys.sort(([a], [b]) => compareBytes(a, b));
      };
      const expected = (...suffixes: string[]) => suffixes.map((suffix) => [key(suffix), sizes[suffix]]);
      // "-" (0x2d) < "/" (0x2f) < "z": byte order, not folder-first order.
      expect(await list(key("p/"))).toEqual(expected("p/a", "p/b-d", "p/b/c", "p/bz"));
      expect(await list(key("p/b"))).toEqual(expected("p/b-d", "p/b/c", "p/bz"));
      expect(await list(key("p/b/"))).toEqual(expected("p/b/c"));
      expect(await list(key("p"))).toEqual(expected("p/a", "p/b-d", "p/b/c", "p/bz", "p0"));
      expect(await list(key("nothing/"))).toEqual([]);
      const everything = await list("");
      expect(everything.map(([k]) => k)).toEqual([...everything.map(([k]) => k)].sort(compareBytes));
      expect(everything.length).toBeGreaterThanOrEqual(Object.keys(sizes).length);
    });

    it("reads parts as one composite object (how an upload's file is read), ranges across parts included", async () => {
      const chunks = [randomBytes(10, 1), randomBytes(5 * MIB + 17, 4), new Uint8Array(0), randomBytes(100, 6)];
      const parts = [];
      for (const [index, chunk] of chunks.entries()) {
        const partKey = key(`composite/part-${index}`);
        await store.put(partKey, streamOf(chunk, 256 * 1024));
        parts.push({ key: partKey, bytes: chunk.byteLength });
      }
      const whole = concatBytes(...chunks);
      const read = await openComposite(store, { objectKey: key("composite/file"), bytes: whole.byteLength, parts });
      expect(read?.bytes).toBe(whole.byteLength);
      expect(sha256Hex(await readAll(read!.body))).toBe(sha256Hex(whole));
      const range = { start: 5, end: 5 * MIB + 40 };
      const ranged = readConcatenated(store, parts, range);
      expect(sha256Hex(await readAll(ranged.body))).toBe(sha256Hex(whole.subarray(range.start, range.end)));
      // A missing part fails the read (not_found) rather than returning other bytes.
      const missing = [...parts, { key: key("composite/nope"), bytes: 3 }];
      await expectStoreError(readAll(readConcatenated(store, missing).body), "not_found");
      await deleteComposite(store, { objectKey: key("composite/file"), bytes: whole.byteLength, parts });
      for (const part of parts) expect(await store.head(part.key)).toBeNull();
    });

    for (const [label, totalBytes, failAt] of [
      ["small", 1 * MIB, 100_000],
      ["multipart-sized", 30 * MIB, 12 * MIB],
    ] as const) {
      it(`a put whose body errors midway leaves no object, and an older one intact (${label})`, async () => {
        const fresh = key(`aborted/${label}/fresh`);
        const existing = key(`aborted/${label}/existing`);
        const old = randomBytes(1000, 9);
        await store.put(existing, streamOf(old));
        for (const objectKey of [fresh, existing]) {
          const source = lazySource(totalBytes, { failAt });
          await expect(store.put(objectKey, source.stream)).rejects.toThrow(/failed on purpose/);
        }
        expect(await store.head(fresh)).toBeNull();
        await expectObject(existing, old);
      });
    }

    it("a body that differs from contentLength is refused and leaves no object", async () => {
      const bytes = randomBytes(2000, 8);
      for (const contentLength of [1999, 2001]) {
        await expectStoreError(store.put(key("length/wrong"), streamOf(bytes), { contentLength }), "length_mismatch");
        expect(await store.head(key("length/wrong"))).toBeNull();
      }
    });

    it("keys that could escape the store or alias another key are refused by every method", async () => {
      const bad = [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/./b",
        "a//b",
        "a/",
        "a\\..\\b",
        "a\0b",
        "a\nb",
      ];
      for (const badKey of bad) {
        await expectStoreError(store.put(badKey, streamOf(randomBytes(3))), "invalid_key");
        await expectStoreError(store.get(badKey), "invalid_key");
        await expectStoreError(store.head(badKey), "invalid_key");
        await expectStoreError(store.delete(badKey), "invalid_key");
      }
      await expectStoreError(store.presign("../outside", "GET", 60), "invalid_key");
      await expectStoreError(store.list("../")[Symbol.asyncIterator]().next(), "invalid_key");
    });

    it("presign gives a URL that plain fetch can GET and PUT, or null where the backend has none", async () => {
      const bytes = randomBytes(4096, 12);
      await store.put(key("presigned/get"), streamOf(bytes));
      const getUrl = await store.presign(key("presigned/get"), "GET", 300);
      if (target.presign === "none") {
        expect(getUrl).toBeNull();
        return;
      }
      expect(getUrl).toMatch(/^https?:\/\//);
      const response = await fetch(getUrl!);
      expect(response.status).toBe(200);
      expect(sha256Hex(new Uint8Array(await response.arrayBuffer()))).toBe(sha256Hex(bytes));

      const putUrl = await store.presign(key("presigned/put"), "PUT", 300);
      const uploaded = randomBytes(3000, 13);
      const putResponse = await fetch(putUrl!, { method: "PUT", body: uploaded });
      expect(putResponse.status).toBe(200);
      await expectObject(key("presigned/put"), uploaded);

      if (target.presign === "checked") {
        // The signature covers the key: the same query string on another key is refused.
        const tampered = getUrl!.replace("presigned/get", "presigned/put");
        expect((await fetch(tampered)).status).toBe(403);
      }
      await expectStoreError(store.presign(key("presigned/get"), "GET", 0), "invalid_argument");
      await expectStoreError(store.presign(key("presigned/get"), "GET", 8 * 24 * 3600), "invalid_argument");
    });
  });
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
