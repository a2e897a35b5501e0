import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ObjectStoreError } from "../../storage/errors.ts";
import { createSha256, createStreamMeter, sha256Implementation } from "../../storage/hashing.ts";
import { randomBytes, readAll, streamOf } from "./streams.ts";

describe("createSha256", () => {
  it("uses node:crypto on Node", () => {
    expect(sha256Implementation).toBe("node:crypto");
  });

  it("gives the same digest with node:crypto and @noble/hashes, however the input is cut", () => {
    const bytes = randomBytes(200_001, 5);
    const expected = createHash("sha256").update(bytes).digest("hex");
    for (const implementation of ["node:crypto", "@noble/hashes"] as const) {
      for (const cut of [1, 63, 64, 65, 4096, 200_001]) {
        const hash = createSha256(implementation);
        for (let offset = 0; offset < bytes.byteLength; offset += cut)
          hash.update(bytes.subarray(offset, offset + cut));
        expect(hash.hexDigest(), `${implementation} in pieces of ${cut}`).toBe(expected);
      }
    }
    expect(createSha256("@noble/hashes").hexDigest()).toBe(createHash("sha256").digest("hex"));
  });
});

describe("createStreamMeter", () => {
  it("passes the bytes through and reports their count and sha256", async () => {
    const bytes = randomBytes(10_000, 6);
    const meter = createStreamMeter(bytes.byteLength);
    const out = await readAll(streamOf(bytes, 999).pipeThrough(meter.transform));
    expect(Buffer.compare(Buffer.from(out), Buffer.from(bytes))).toBe(0);
    expect(meter.result()).toEqual({ bytes: 10_000, sha256: createHash("sha256").update(bytes).digest("hex") });
  });

  it("errors as soon as a body runs past contentLength, and at the end of a short one", async () => {
    const long = createStreamMeter(10);
    await expect(readAll(streamOf(randomBytes(100), 20).pipeThrough(long.transform))).rejects.toBeInstanceOf(
      ObjectStoreError,
    );
    const short = createStreamMeter(1000);
    await expect(readAll(streamOf(randomBytes(100)).pipeThrough(short.transform))).rejects.toMatchObject({
      code: "length_mismatch",
    });
    expect(() => short.result()).toThrow(/before the stream ended/);
  });

  it("refuses chunks that are not bytes", async () => {
    const strings = new ReadableStream({
      start(controller) {
        controller.enqueue("text");
        controller.close();
      },
    }) as unknown as ReadableStream<Uint8Array>;
    await expect(readAll(strings.pipeThrough(createStreamMeter().transform))).rejects.toThrow(TypeError);
  });
});
