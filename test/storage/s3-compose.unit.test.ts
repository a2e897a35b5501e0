import { describe, expect, it } from "vitest";
import { classifyCopyFailure, planCopyParts } from "../../storage/s3-compose.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const info = (key: string, bytes: number) => ({ key, bytes });

describe("planCopyParts", () => {
  it("copies whole sources when all but the last are >= 5 MiB", () => {
    expect(planCopyParts([info("a", 5 * MIB), info("b", 1)])).toEqual([
      { key: "a", start: 0, end: 5 * MIB, whole: true },
      { key: "b", start: 0, end: 1, whole: true },
    ]);
    expect(planCopyParts([info("only", 10)])).toEqual([{ key: "only", start: 0, end: 10, whole: true }]);
  });

  it("gives up (stream instead) when a source other than the last is under 5 MiB", () => {
    expect(planCopyParts([info("a", 5 * MIB - 1), info("b", 6 * MIB)])).toBeNull();
  });

  it("skips empty sources, and gives up when nothing is left", () => {
    expect(planCopyParts([info("a", 6 * MIB), info("empty", 0), info("b", 3)])?.map((part) => part.key)).toEqual([
      "a",
      "b",
    ]);
    expect(planCopyParts([info("empty", 0)])).toBeNull();
  });

  it("splits a source over 5 GiB into even ranged parts that cover it exactly", () => {
    const parts = planCopyParts([info("huge", 12 * GIB + 7), info("tail", 1)])!;
    const huge = parts.filter((part) => part.key === "huge");
    expect(huge).toHaveLength(3);
    expect(
      huge.every((part) => !part.whole && part.end - part.start <= 5 * GIB && part.end - part.start >= 5 * MIB),
    ).toBe(true);
    expect(huge[0]?.start).toBe(0);
    expect(huge.at(-1)?.end).toBe(12 * GIB + 7);
    for (let i = 1; i < huge.length; i++) expect(huge[i]?.start).toBe(huge[i - 1]?.end);
  });

  it("gives up past 10,000 parts", () => {
    expect(planCopyParts(Array.from({ length: 10_001 }, (_, i) => info(`p${i}`, 5 * MIB)))).toBeNull();
  });
});

describe("classifyCopyFailure", () => {
  it("remembers NotImplemented, streams once on a server error, and passes the rest on", () => {
    expect(classifyCopyFailure({ name: "NotImplemented", $metadata: { httpStatusCode: 501 } })).toBe("unsupported");
    expect(classifyCopyFailure({ name: "Error", $metadata: { httpStatusCode: 500 } })).toBe("retry-by-streaming");
    expect(classifyCopyFailure({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } })).toBe("fatal");
    expect(classifyCopyFailure(new Error("socket hang up"))).toBe("fatal");
  });
});
