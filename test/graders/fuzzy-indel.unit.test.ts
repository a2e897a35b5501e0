/**
 * The bit-parallel LCS kernel against the textbook dynamic programme, on random sequences across the 30-bit word
 * boundaries: unbanded, and banded with the smallest cut-off that still must give the exact answer (the LCS itself).
 */
import { describe, expect, it } from "vitest";
import { Pattern } from "../../graders/metrics/fuzzy-indel.ts";
import { dpLcs } from "./dp-lcs.ts";

function randomSeq(next: () => number, len: number, alphabet: number): Int32Array {
  return Int32Array.from({ length: len }, () => 97 + Math.floor(next() * alphabet));
}

describe("Pattern.lcs", () => {
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };

  it("equals the DP LCS, with and without the band, across word boundaries", () => {
    const pattern = new Pattern();
    const failures: string[] = [];
    for (let trial = 0; trial < 600; trial++) {
      const len1 = 1 + Math.floor(next() * 130);
      const len2 = Math.max(1, len1 + Math.floor((next() - 0.5) * 40));
      const alphabet = 2 + Math.floor(next() * 6);
      const a = randomSeq(next, len1, alphabet);
      // Half the texts are edits of the pattern, so the LCS is high and the band narrow.
      const b = next() < 0.5 ? randomSeq(next, len2, alphabet) : a.map((c) => (next() < 0.1 ? 97 : c));
      const want = dpLcs(a, b);
      pattern.build(a, 0, a.length, 256);
      const full = pattern.lcs(b, 0, b.length);
      const banded = pattern.lcs(b, 0, b.length, want);
      const looser = pattern.lcs(b, 0, b.length, Math.floor(want * next()));
      if (full !== want || banded !== want || looser !== want) {
        failures.push(`len ${len1}/${b.length}: want ${want}, full ${full}, banded ${banded}, looser ${looser}`);
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it("sweeps every prefix's LCS in one pass", () => {
    const pattern = new Pattern();
    const a = randomSeq(next, 75, 3);
    const b = randomSeq(next, 90, 3);
    pattern.build(a, 0, a.length, 256);
    const sweep = Array.from(pattern.sweep(b, 0, 1, b.length).subarray(0, b.length + 1));
    expect(sweep).toEqual(Array.from({ length: b.length + 1 }, (_, k) => dpLcs(a, b.subarray(0, k))));
  });
});
