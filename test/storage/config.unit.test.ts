import { describe, expect, it } from "vitest";
import { createObjectStore, ObjectStoreConfig } from "../../storage/index.ts";

describe("ObjectStoreConfig", () => {
  it("parses a local config", () => {
    expect(ObjectStoreConfig.parse({ kind: "local", dir: "/var/lib/rft" })).toEqual({
      kind: "local",
      dir: "/var/lib/rft",
    });
  });

  it("parses an S3 config and defaults forcePathStyle to false", () => {
    const config = ObjectStoreConfig.parse({
      kind: "s3",
      endpoint: "http://127.0.0.1:9000",
      region: "auto",
      bucket: "rft",
      accessKeyId: "id",
      secretAccessKey: "secret",
    });
    expect(config).toMatchObject({ kind: "s3", forcePathStyle: false, endpoint: "http://127.0.0.1:9000" });
  });

  it("names the bad field", () => {
    const base = { kind: "s3", region: "us-east-1", bucket: "b", accessKeyId: "a", secretAccessKey: "s" };
    for (const [patch, field] of [
      [{ endpoint: "not a url" }, "endpoint"],
      [{ bucket: "" }, "bucket"],
      [{ partSizeBytes: 1024 }, "partSizeBytes"],
      [{ queueSize: 0 }, "queueSize"],
    ] as const) {
      const result = ObjectStoreConfig.safeParse({ ...base, ...patch });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual([field]);
    }
    expect(ObjectStoreConfig.safeParse({ kind: "gcs" }).success).toBe(false);
    expect(ObjectStoreConfig.safeParse({ kind: "local", dir: "" }).error?.issues[0]?.path).toEqual(["dir"]);
  });

  it("builds the adapter the config names", async () => {
    const s3 = await createObjectStore(
      ObjectStoreConfig.parse({
        kind: "s3",
        region: "us-east-1",
        bucket: "b",
        accessKeyId: "a",
        secretAccessKey: "s",
        endpoint: "http://127.0.0.1:1",
      }),
    );
    expect(s3.kind).toBe("s3");
    expect(await s3.presign("some/key", "GET", 60)).toMatch(
      /^http:\/\/127\.0\.0\.1:1\/b\/some\/key\?|^http:\/\/b\.127/,
    );
    const local = await createObjectStore({ kind: "local", dir: "/nonexistent/rft" });
    expect(local.kind).toBe("local");
  });
});
