import { describe, expect, it } from "vitest";
import { startFauxqs } from "../helpers/s3-servers.ts";
import { probedS3Store, s3ContractTarget } from "./s3-target.ts";
import { describeObjectStoreContract } from "./store-contract.ts";
import { concatBytes, randomBytes, readAll, sha256Hex, streamOf } from "./streams.ts";

const MIB = 1024 * 1024;

// fauxqs 1.9.2 has no UploadPartCopy (it answers 500, even after the SDK's retries): the adapter composes by
// streaming there.
describeObjectStoreContract("S3 adapter on fauxqs", async () =>
  s3ContractTarget(await startFauxqs(), { largeCompose: "stream", listOrder: "bytes", presign: "unchecked" }),
);

describe("S3 adapter on fauxqs: multipart details", () => {
  it("aborts the multipart upload when the body fails after parts went up", async () => {
    const server = await startFauxqs();
    const probe = probedS3Store(server);
    try {
      const failing = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(randomBytes(12 * 1024 * 1024));
        },
        pull(controller) {
          controller.error(new Error("client went away"));
        },
      });
      await expect(probe.store.put("abandoned", failing)).rejects.toThrow(/client went away/);
      expect(probe.commands).toContain("CreateMultipartUploadCommand");
      expect(probe.commands).toContain("UploadPartCommand");
      expect(probe.commands.at(-1)).toBe("AbortMultipartUploadCommand");
      expect(await probe.store.head("abandoned")).toBeNull();
    } finally {
      probe.store.client.destroy();
      await server.stop();
    }
  });

  // fauxqs with a FAKE UploadPartCopy (see startFauxqs' uploadPartCopyShim): the only way to run the server-side
  // compose path end to end here, since neither fauxqs nor s3rver has UploadPartCopy.
  it("composes >= 5 MiB sources with UploadPartCopy, one part per source, in order (fake UploadPartCopy)", async () => {
    const server = await startFauxqs({ uploadPartCopyShim: true });
    const probe = probedS3Store(server);
    try {
      const parts = [randomBytes(6 * MIB, 1), randomBytes(5 * MIB, 2), randomBytes(10, 3)];
      for (const [index, part] of parts.entries()) await probe.store.put(`src/${index}`, streamOf(part, MIB));
      const info = await probe.store.compose("dst", ["src/0", "src/1", "src/2"]);
      expect(info.bytes).toBe(11 * MIB + 10);
      const got = await probe.store.get("dst");
      expect(sha256Hex(await readAll(got!.body))).toBe(sha256Hex(concatBytes(...parts)));
      expect(probe.copiedParts()).toBe(3);
      // Small sources cannot be copied part by part: streamed, no UploadPartCopy.
      await probe.store.compose("dst-small", ["src/2", "src/2"]);
      expect((await probe.store.head("dst-small"))?.bytes).toBe(20);
      expect(probe.copiedParts()).toBe(3);
      // A missing source is not_found, and nothing is written.
      await probe.store.delete("src/1");
      await expect(probe.store.compose("dst-missing", ["src/0", "src/1"])).rejects.toMatchObject({ code: "not_found" });
      expect(await probe.store.head("dst-missing")).toBeNull();
    } finally {
      probe.store.client.destroy();
      await server.stop();
    }
  });
});
