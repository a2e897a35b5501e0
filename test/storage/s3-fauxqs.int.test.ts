import { describe, expect, it } from "vitest";
import { startFauxqs } from "../helpers/s3-servers.ts";
import { probedS3Store, s3ContractTarget } from "./s3-target.ts";
import { describeObjectStoreContract } from "./store-contract.ts";
import { randomBytes } from "./streams.ts";

const _MIB = 1024 * 1024;

describeObjectStoreContract("S3 adapter on fauxqs", async () =>
  s3ContractTarget(await startFauxqs(), { listOrder: "bytes", presign: "unchecked" }),
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
});
