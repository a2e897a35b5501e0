import { describe, expect, it } from "vitest";
import { startFauxqs } from "../helpers/s3-servers.ts";
import { probedS3Store, s3ContractTarget } from "./s3-target.ts";
import { describeObjectStoreContract } from "./store-contract.ts";
import { concatBytes, randomBytes, readAll, sha256Hex, streamOf } from "./streams.ts";

// fauxqs 1.9.2 has no UploadPartCopy (it answers 500): the adapter composes by streaming there.
describeObjectStoreContract("S3 adapter on fauxqs", async () =>
  s3ContractTarget(await startFauxqs(), { largeCompose: "stream", listOrder: "bytes", presign: "unchecked" }),
);

// The same contract with a FAKE UploadPartCopy added to fauxqs (see startFauxqs' uploadPartCopyShim), the only
// way to run the server-side compose path end to end here.
describeObjectStoreContract("S3 adapter on fauxqs + fake UploadPartCopy", async () =>
  s3ContractTarget(await startFauxqs({ uploadPartCopyShim: true }), {
    largeCompose: "copy",
    listOrder: "bytes",
    presign: "unchecked",
  }),
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

  it("splits compose into ranged UploadPartCopy parts in order (fake UploadPartCopy)", async () => {
    const server = await startFauxqs({ uploadPartCopyShim: true });
    const probe = probedS3Store(server);
    try {
      const parts = [randomBytes(6 * 1024 * 1024, 1), randomBytes(10, 2)];
      await probe.store.put("src/0", streamOf(parts[0]!, 1024 * 1024));
      await probe.store.put("src/1", streamOf(parts[1]!));
      await probe.store.compose("dst", ["src/0", "src/1"]);
      const got = await probe.store.get("dst");
      expect(sha256Hex(await readAll(got!.body))).toBe(sha256Hex(concatBytes(...parts)));
      expect(probe.copiedParts()).toBe(2);
    } finally {
      probe.store.client.destroy();
      await server.stop();
    }
  });
});
