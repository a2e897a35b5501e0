import { describe, expect, it } from "vitest";
import { createS3Store } from "../../storage/s3.ts";
import { startS3rver } from "../helpers/s3-servers.ts";
import { probedS3Store, s3ContractTarget } from "./s3-target.ts";
import { describeObjectStoreContract } from "./store-contract.ts";
import { randomBytes, streamOf } from "./streams.ts";

// s3rver 3.7.1 lists keys folder by folder rather than in byte order, and checks only the access key id of a
// SigV4 request, not its signature (so presigned URLs are not really checked either).
describeObjectStoreContract("S3 adapter on s3rver", async () =>
  s3ContractTarget(await startS3rver(), { listOrder: "unordered", presign: "unchecked" }),
);

describe("S3 adapter on s3rver: server quirks", () => {
  it("keeps the body's error when the cleanup after it fails too (s3rver has no AbortMultipartUpload)", async () => {
    const server = await startS3rver();
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
      expect(probe.commands).toContain("AbortMultipartUploadCommand");
      expect(await probe.store.head("abandoned")).toBeNull();
    } finally {
      probe.store.client.destroy();
      await server.stop();
    }
  });

  it("refuses an unknown access key id (all of SigV4 that s3rver checks)", async () => {
    const server = await startS3rver();
    const probe = probedS3Store({ ...server, accessKeyId: "NOT-S3RVER" });
    try {
      await expect(probe.store.head("anything")).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    } finally {
      probe.store.client.destroy();
      await server.stop();
    }
  });
});

describe("S3 adapter credentials", () => {
  it("uses the AWS SDK's credential chain when no keys are configured (an IAM role, or AWS_* variables)", async () => {
    const server = await startS3rver();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    try {
      // s3rver checks the access key id of each request: a wrong one from the chain is refused, the right one works.
      process.env.AWS_ACCESS_KEY_ID = "NOT-A-KEY";
      process.env.AWS_SECRET_ACCESS_KEY = "x";
      const wrong = createS3Store({
        endpoint: server.endpoint,
        region: server.region,
        bucket: server.bucket,
        forcePathStyle: true,
      });
      await expect(wrong.put("chain/a", streamOf(randomBytes(10)))).rejects.toThrow();
      wrong.client.destroy();
      process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
      const store = createS3Store({
        endpoint: server.endpoint,
        region: server.region,
        bucket: server.bucket,
        forcePathStyle: true,
      });
      await store.put("chain/a", streamOf(randomBytes(10)));
      expect((await store.head("chain/a"))?.bytes).toBe(10);
      store.client.destroy();
    } finally {
      for (const [name, value] of [
        ["AWS_ACCESS_KEY_ID", saved.id],
        ["AWS_SECRET_ACCESS_KEY", saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await server.stop();
    }
  });

  it("refuses one key without the other", () => {
    expect(() => createS3Store({ region: "us-east-1", bucket: "b", accessKeyId: "a" })).toThrow(/go together/);
  });
});
