/**
 * The WebAssembly LCS kernel (64-bit words) against the JS one (30-bit words) and the textbook DP, on random id
 * sequences across both word sizes' boundaries and with ids past 256 (numbered code points); and fuzzy_match on random
 * strings with either kernel, which must give the same scores.
 */
import { afterAll, describe, expect, it } from "vitest";
import { fuzzyMatch, useFuzzyKernel } from "../../graders/metrics/fuzzy.ts";
import { Pattern } from "../../graders/metrics/fuzzy-indel.ts";
import { WasmPattern, wasmKernelAvailable } from "../../graders/metrics/fuzzy-kernel.ts";
import { dpLcs } from "./dp-lcs.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

const LENGTHS = [1, 2, 29, 30, 31, 63, 64, 65, 90, 127, 128, 129, 200, 300];

describe.skipIf(!wasmKernelAvailable)("WebAssembly LCS kernel", () => {
  const next = rng(11);
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  // Ids: a few small letters, or spread up to 5000 as numbered code points are.
  const randomSeq = (len: number, alphabet: number, wide: boolean) =>
    Int32Array.from({ length: len }, () => {
      const k = Math.floor(next() * alphabet);
      return wide && k % 2 ? 256 + k * 97 : 97 + k;
    });

  it("gives the JS kernel's and the DP's LCS, sweeps and membership", () => {
    const js = new Pattern();
    const wasm = new WasmPattern();
    const failures: string[] = [];
    for (let trial = 0; trial < 500; trial++) {
      const len1 = pick(LENGTHS);
      const len2 = Math.max(1, pick(LENGTHS) + Math.floor((next() - 0.5) * 10));
      const alphabet = 2 + Math.floor(next() * 8);
      const wide = next() < 0.4;
      const alpha = wide ? 256 + 97 * alphabet + 1 : 256;
      const a = randomSeq(len1, alphabet, wide);
      const b = next() < 0.5 ? randomSeq(len2, alphabet, wide) : a.map((c) => (next() < 0.15 ? 97 : c));
      const reverse = next() < 0.3;
      const pat = reverse ? a.slice().reverse() : a;
      const want = dpLcs(pat, b);
      js.build(a, 0, a.length, alpha, reverse);
      wasm.build(a, 0, a.length, alpha, reverse);
      const got = [wasm.lcs(b, 0, b.length), wasm.lcs(b, 0, b.length, want), js.lcs(b, 0, b.length, want)];
      if (got.some((g) => g !== want)) failures.push(`lcs ${len1}/${b.length}: want ${want}, got ${got}`);
      // Below the cut-off a kernel may return any smaller value; at or above it, the exact LCS.
      const cut = Math.floor(want * next());
      if (wasm.lcs(b, 0, b.length, cut) !== want) failures.push(`banded lcs ${len1}/${b.length} cut ${cut}`);
      const dir = next() < 0.5 ? 1 : -1;
      const start = dir === 1 ? 0 : b.length - 1;
      const sweepJs = Array.from(js.sweep(b, start, dir, b.length).subarray(0, b.length + 1));
      const sweepWasm = Array.from(wasm.sweep(b, start, dir, b.length).subarray(0, b.length + 1));
      if (sweepJs.join() !== sweepWasm.join()) failures.push(`sweep ${len1}/${b.length} dir ${dir}`);
      for (let id = 90; id < 110; id++) if (js.has(id) !== wasm.has(id)) failures.push(`has(${id}) ${len1}`);
      if (wide && js.has(256 + 97) !== wasm.has(256 + 97)) failures.push(`has(wide) ${len1}`);
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it("keeps a pattern while longer texts grow its memory, and relays it out for a larger alphabet", () => {
    const wasm = new WasmPattern();
    const js = new Pattern();
    const a = randomSeq(100, 4, false);
    wasm.build(a, 0, a.length, 256);
    js.build(a, 0, a.length, 256);
    for (const len of [10, 1000, 100_000, 150]) {
      const b = randomSeq(len, 4, false);
      expect(wasm.lcs(b, 0, b.length)).toBe(js.lcs(b, 0, b.length));
    }
    const wide = randomSeq(120, 6, true);
    wasm.build(wide, 0, wide.length, 10_000);
    const c = randomSeq(130, 6, true);
    expect(wasm.lcs(c, 0, c.length)).toBe(dpLcs(wide, c));
    // As long a pattern with many more distinct ids: its masks outgrow their region, which moves the text's.
    const many = Int32Array.from({ length: 256 }, (_, i) => 256 + 3 * i);
    wasm.build(many, 0, many.length, 10_000);
    const d = many.map((id, i) => (i % 5 ? id : 97));
    expect(wasm.lcs(d, 0, d.length)).toBe(dpLcs(many, d));
  });
});

describe.skipIf(!wasmKernelAvailable)("fuzzy_match on either kernel", () => {
  afterAll(() => useFuzzyKernel("wasm"));

  it("gives the same scores", () => {
    const next = rng(5);
    const alphabets = ["ab ", "abc d.", "aé Ω日 ", "xyzw vu ts", "a😀b ", "the quick brown fox "];
    const text = (alphabet: string[], len: number) =>
      Array.from({ length: len }, () => alphabet[Math.floor(next() * alphabet.length)]!).join("");
    const pairs: [string, string][] = [];
    for (let i = 0; i < 600; i++) {
      const alphabet = [...alphabets[Math.floor(next() * alphabets.length)]!];
      const len = Math.floor(next() ** 2 * 400);
      const a = text(alphabet, len);
      const b = next() < 0.5 ? text(alphabet, Math.floor(next() * 400)) : a.replace(/a/g, () => text(alphabet, 1));
      pairs.push([a, b]);
    }
    useFuzzyKernel("js");
    const js = pairs.map(([a, b]) => fuzzyMatch(a, b));
    useFuzzyKernel("wasm");
    const wasm = pairs.map(([a, b]) => fuzzyMatch(a, b));
    expect(wasm).toEqual(js);
  });
});
