import { describe, expect, it } from "vitest";
import { assertValidKey, assertValidPrefix, clampRange } from "../../storage/validate.ts";

describe("key rules", () => {
  it("accepts the keys the platform makes", () => {
    for (const key of [
      "files/file-abc123",
      "uploads/upload_1/parts/00001",
      "models/m/.gitattributes",
      "a",
      "x y+z=é",
    ]) {
      expect(() => assertValidKey(key), key).not.toThrow();
    }
  });

  it("refuses keys that escape, alias or cannot be files", () => {
    for (const key of [
      "",
      "/abs",
      "..",
      "a/..",
      "../a",
      "a/./b",
      ".",
      "a//b",
      "a/",
      "a\\b",
      "a\0b",
      "a\tb",
      "é".repeat(513),
    ]) {
      expect(() => assertValidKey(key), JSON.stringify(key)).toThrow(/Invalid object key/);
    }
  });

  it("lets a prefix be empty or end in a partial or empty segment", () => {
    for (const prefix of ["", "files/", "files/fi", "a/b/"]) expect(() => assertValidPrefix(prefix)).not.toThrow();
    for (const prefix of ["../", "/abs", "a//", "a/../"]) expect(() => assertValidPrefix(prefix)).toThrow();
  });
});

describe("clampRange", () => {
  it("clamps [start, end) to the object and empties ranges that select nothing", () => {
    expect(clampRange(undefined, 10)).toEqual({ start: 0, end: 10 });
    expect(clampRange({ start: 3 }, 10)).toEqual({ start: 3, end: 10 });
    expect(clampRange({ start: 3, end: 50 }, 10)).toEqual({ start: 3, end: 10 });
    expect(clampRange({ start: 20 }, 10)).toEqual({ start: 10, end: 10 });
    expect(clampRange({ start: 5, end: 2 }, 10)).toEqual({ start: 5, end: 5 });
  });
});
