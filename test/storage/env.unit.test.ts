/** The S3 part of the server's environment: keys both or neither (neither = the AWS SDK's credential chain). */
import { describe, expect, it } from "vitest";
import { parseEnv } from "../../api/config.ts";

describe("S3 settings in the environment", () => {
  it("accepts a bucket without keys: the SDK's credential chain (IAM role, AWS_* variables) supplies them", () => {
    const env = parseEnv({ S3_BUCKET: "data", S3_REGION: "eu-west-1" });
    expect(env.S3_BUCKET).toBe("data");
    expect(env.S3_ACCESS_KEY_ID).toBeUndefined();
  });

  it("names the missing half of a key pair", () => {
    expect(() => parseEnv({ S3_BUCKET: "data", S3_ACCESS_KEY_ID: "AKIA" })).toThrow(/S3_SECRET_ACCESS_KEY/);
    expect(() => parseEnv({ S3_BUCKET: "data", S3_SECRET_ACCESS_KEY: "s" })).toThrow(/S3_ACCESS_KEY_ID/);
  });

  it("still wants a bucket for an endpoint", () => {
    expect(() => parseEnv({ S3_ENDPOINT: "http://127.0.0.1:9000" })).toThrow(/S3_BUCKET/);
  });
});
