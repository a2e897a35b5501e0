/**
 * fuzzy_match against rapidfuzz on pairs built to reach every branch of WRatio and of the LCS kernel: tiny alphabets
 * (many equal tokens, duplicates, shared prefixes and suffixes), lengths around the 30-bit word boundaries, length
 * ratios at exactly 1.5 and 8, needles inside haystacks, and code points above U+00FF (numbered ids).
 */
import { afterAll, describe, expect, it } from "vitest";
import { fuzzyMatch, useFuzzyKernel } from "../../graders/metrics/fuzzy.ts";
import { wasmKernelAvailable } from "../../graders/metrics/fuzzy-kernel.ts";
import { type Pair, rng, smallEdits } from "./reference/corpus.ts";
import { hasVenv, runReference } from "./reference/python.ts";

const ALPHABETS = ["ab ", "abc  d", "aB_c. ", "xyz xy", "éaß Ω ", "日本 語a", "a😀b ", "abcdefghij klmnop "];

function randomText(r: () => number, alphabet: string[], len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(r() * alphabet.length)]!;
  return s;
}

function edit(r: () => number, alphabet: string[], text: string, rate: number): string {
  const chars = [...text];
  const out: string[] = [];
  for (const ch of chars) {
    const c = r();
    if (c < rate / 3) continue;
    if (c < (2 * rate) / 3) out.push(alphabet[Math.floor(r() * alphabet.length)]!);
    else if (c < rate) out.push(ch, alphabet[Math.floor(r() * alphabet.length)]!);
    else out.push(ch);
  }
  return out.join("");
}

function buildPairs(count: number): Pair[] {
  const r = rng(99);
  const lengths = [1, 2, 5, 12, 29, 30, 31, 59, 60, 61, 64, 65, 90, 91, 150, 300];
  const pairs: Pair[] = [];
  while (pairs.length < count) {
    const alphabet = [...ALPHABETS[Math.floor(r() * ALPHABETS.length)]!];
    const len = lengths[Math.floor(r() * lengths.length)]!;
    const kind = r();
    const a = randomText(r, alphabet, len);
    if (kind < 0.35) pairs.push({ input: a, reference: edit(r, alphabet, a, r() * 0.5) });
    else if (kind < 0.5) pairs.push({ input: a, reference: randomText(r, alphabet, lengths[Math.floor(r() * 16)]!) });
    else if (kind < 0.65) {
      // Length ratio exactly 1.5 or 8 (before processing; most alphabets keep the length).
      const factor = r() < 0.5 ? 1.5 : 8;
      const b = randomText(r, alphabet, Math.round(len * factor));
      pairs.push(r() < 0.5 ? { input: a, reference: b } : { input: b, reference: a });
    } else if (kind < 0.85) {
      const hay = `${randomText(r, alphabet, Math.floor(r() * 200))} ${edit(r, alphabet, a, 0.1)} ${randomText(r, alphabet, Math.floor(r() * 100))}`;
      pairs.push(r() < 0.5 ? { input: a, reference: hay } : { input: hay, reference: a });
    } else {
      // Word-level shuffles and duplicates: the token ratios decide.
      const words = a.split(" ").filter(Boolean);
      const shuffled = [...words, ...words.slice(0, Math.floor(r() * 3))].sort(() => r() - 0.5);
      pairs.push({ input: a, reference: shuffled.join(r() < 0.5 ? " " : "  ") });
    }
  }
  return pairs;
}

/**
 * Word texts with one to three small edits (a letter, a word dropped, doubled or swapped with its neighbour), 6 to 420
 * code points: `ratio` lands just below, on and just above 95 (where WRatio is `ratio` alone), with the token ratios
 * close behind, around the 400 code points below which `ratio` runs first, and the sorted lists' character bound on
 * both sides of the cut-off.
 */
function nearPairs(count: number): Pair[] {
  const r = rng(7);
  const words = ["new", "york", "mets", "the", "a", "braves", "atlanta", "vs", "game", "x", "zürich", "日本"];
  const pairs: Pair[] = [];
  while (pairs.length < count) {
    const tokens = Array.from({ length: 2 + Math.floor(r() ** 2 * 70) }, () => words[Math.floor(r() * words.length)]!);
    pairs.push({ input: tokens.join(" "), reference: smallEdits(r, tokens).join(" ") });
  }
  return pairs;
}

describe.skipIf(!hasVenv)("fuzzy_match parity with rapidfuzz on adversarial pairs", () => {
  const pairs = [...buildPairs(4000), ...nearPairs(600)];
  const expected = hasVenv ? runReference<number[]>(pairs, ["--fuzzy"]) : [];

  afterAll(() => useFuzzyKernel(wasmKernelAvailable() ? "wasm" : "js"));

  it.each(["wasm", "js"] as const)(`agrees to 1e-6 on ${pairs.length} pairs (%s pipeline)`, (kernel) => {
    if (kernel === "wasm" && !wasmKernelAvailable()) return;
    useFuzzyKernel(kernel);
    const mismatches: string[] = [];
    pairs.forEach((p, i) => {
      const got = fuzzyMatch(p.input, p.reference);
      if (!(Math.abs(got - expected[i]!) <= 1e-6)) {
        mismatches.push(`#${i} got ${got} want ${expected[i]}: ${JSON.stringify(p).slice(0, 400)}`);
      }
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});
