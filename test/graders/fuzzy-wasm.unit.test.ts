/**
 * The WebAssembly WRatio pipeline against the JS one (what workerd runs) on random texts built to reach every branch
 * of both: lengths 0..3000, tiny and large alphabets, accents, CJK, astral code points and lone surrogates, repeated
 * tokens, length ratios around 1.5 and 8, needles in haystacks, identical and whitespace-only texts. The scores must be
 * equal, not close: both run the same algorithm in the same floating-point order.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fuzzyMatch, useFuzzyKernel } from "../../graders/metrics/fuzzy.ts";
import { wasmKernelAvailable, wasmMemoryBytes } from "../../graders/metrics/fuzzy-kernel.ts";
import { FUZZY_WRATIO_WASM } from "../../graders/metrics/fuzzy-wratio.wasm.ts";
import { rng, smallEdits } from "./reference/corpus.ts";

const ALPHABETS = [
  "ab ",
  "abc d.",
  "aé Ω日 ",
  "xyzw vu ts",
  "a😀b 𝐀𝐛 ",
  "the quick brown fox ",
  "İıßẞǅ ΣσςЖж ",
  "日本語中文한국어 ",
  `${[...Array(300)].map((_, i) => String.fromCodePoint(0x4e00 + i * 7)).join("")}  `,
  `${[...Array(200)].map((_, i) => String.fromCodePoint(0x1d400 + i)).join("")} `,
  "\t\n .,;_-",
  "a\ud83d b\udc00 c\ud83d\ude00 ", // lone surrogates (each processed as itself: no alphanumeric, a space) and a pair
];
const WORDS = ["new", "york", "mets", "the", "a", "braves", "atlanta", "vs", "zürich", "日本", "😀", "x"];

describe.skipIf(!wasmKernelAvailable())("fuzzy_match: WebAssembly pipeline vs JS pipeline", () => {
  afterAll(() => useFuzzyKernel("wasm"));
  const next = rng(2024);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const chars = (alphabet: string[], len: number) => Array.from({ length: len }, () => pick(alphabet)).join("");
  const words = (count: number) => Array.from({ length: count }, () => pick(WORDS)).join(next() < 0.8 ? " " : "  ");
  const edit = (alphabet: string[], text: string, rate: number) =>
    [...text].map((ch) => (next() < rate ? (next() < 0.5 ? "" : pick(alphabet)) : ch)).join("");

  function randomPair(): [string, string] {
    const alphabet = [...pick(ALPHABETS)];
    const len = Math.floor(next() ** 3 * 3000);
    const a = next() < 0.25 ? words(Math.ceil(len / 5)) : chars(alphabet, len);
    const kind = next();
    if (kind < 0.25) return [a, edit(alphabet, a, next() * 0.4)];
    if (kind < 0.4) return [a, chars(alphabet, Math.floor(next() ** 2 * 3000))];
    if (kind < 0.55) {
      const factor = pick([1.5, 1.49, 1.51, 8, 7.9, 8.1, 3]);
      return [a, chars(alphabet, Math.round(len * factor))];
    }
    if (kind < 0.7) {
      const hay = `${chars(alphabet, Math.floor(next() * 500))} ${edit(alphabet, a, 0.1)} ${chars(alphabet, Math.floor(next() * 300))}`;
      return next() < 0.5 ? [a, hay] : [hay, a];
    }
    if (kind < 0.8) {
      const tokens = a.split(" ").filter(Boolean);
      const shuffled = [...tokens, ...tokens.slice(0, Math.floor(next() * 4))].sort(() => next() - 0.5);
      return [a, shuffled.join(pick([" ", "  ", ". "]))];
    }
    if (kind < 0.87) return [a, next() < 0.5 ? a : ` ${a.toUpperCase()}. `];
    if (kind < 0.94) return [a, pick(["", " ", "  \t ", ".,;"])];
    if (kind < 0.97) return nearPair();
    return [words(1 + Math.floor(next() * 400)), words(1 + Math.floor(next() * 400))];
  }

  /** Words with one to three small edits: `ratio` just below, on and above 95, around 400 code points together. */
  function nearPair(): [string, string] {
    const tokens = words(2 + Math.floor(next() ** 2 * 70)).split(/ +/);
    return [tokens.join(" "), smallEdits(next, tokens).join(" ")];
  }

  /** The first few pairs on which the two pipelines' scores differ, each with both scores. */
  function mismatches(pairs: readonly (readonly [string, string])[]): string[] {
    useFuzzyKernel("js");
    const js = pairs.map(([a, b]) => fuzzyMatch(a, b));
    useFuzzyKernel("wasm");
    const wasm = pairs.map(([a, b]) => fuzzyMatch(a, b));
    return pairs
      .flatMap(([a, b], i) =>
        wasm[i] === js[i] ? [] : [`#${i} wasm ${wasm[i]} js ${js[i]}: ${JSON.stringify([a, b]).slice(0, 300)}`],
      )
      .slice(0, 5);
  }

  it("gives the same scores on 2000 random pairs", () => {
    expect(mismatches(Array.from({ length: 2000 }, randomPair))).toEqual([]);
  });

  it("gives the same scores on texts of 40 000 distinct code points, then on small ones", () => {
    // The module numbers wide code points per grading through a hash table sized to the texts: this fills it with
    // CJK ideographs and astral ones (surrogate pairs), in an order that the hash does not see coming.
    const cps = [
      ...Array.from({ length: 20_000 }, (_, i) => 0x4e00 + i),
      ...Array.from({ length: 20_000 }, (_, i) => 0x20000 + i),
    ].sort(() => next() - 0.5);
    const text = cps.map((cp, i) => String.fromCodePoint(cp) + (i % 4 === 3 ? " " : "")).join("");
    const tokens = text.split(" ");
    const pairs: [string, string][] = [
      [text, smallEdits(next, tokens).join(" ")],
      [tokens.slice(0, 2000).join(" "), [...tokens.slice(0, 2000)].reverse().join(" ")],
      ["日本 語", "語 日本"],
    ];
    expect(mismatches(pairs)).toEqual([]);
  });

  it("gives the same scores when tokens share their first three code points (tied sort keys)", () => {
    // The module sorts token classes by a key of their first three code points, counting places when no two keys tie
    // and by comparisons when some do: every pair here has ties, and repeated tokens, short and long.
    const vocabulary = [
      "hop",
      "hope",
      "hopeful",
      "hopefully",
      "hopping",
      "hops",
      "ab",
      "abc",
      "abcd",
      "abcde",
      "a",
      "日本語",
      "日本語学",
    ];
    const sentence = () => Array.from({ length: 3 + Math.floor(next() * 12) }, () => pick(vocabulary)).join(" ");
    const pairs = Array.from({ length: 500 }, (_, i): [string, string] => {
      const a = sentence();
      return [a, i % 2 ? sentence() : smallEdits(next, a.split(" ")).join(" ")];
    });
    expect(mismatches(pairs)).toEqual([]);
  });

  it("gives the same scores at the tokenizer's edges: token and space-run lengths, text lengths", () => {
    // The module finds tokens in a bitmap of the spaces, 57 places a read, and hashes a token's first four ids (texts
    // of 96 code points or more together; shorter pairs go one id at a time), and compares tokens of up to 16 ids as
    // vectors: tokens and runs of spaces of 1 to 70 ids, texts around multiples of 64 and pairs around 96.
    const letters = [..."abcdefghij"];
    const token = (n: number) => Array.from({ length: n }, () => pick(letters)).join("");
    const around = [1, 2, 3, 4, 5, 15, 16, 17, 55, 56, 57, 58, 63, 64, 65, 70];
    const text = (target: number) => {
      const parts: string[] = [];
      let length = 0;
      while (length < target) {
        const word = token(next() < 0.3 ? pick(around) : 1 + Math.floor(next() * 8));
        const gap = next() < 0.15 ? " ".repeat(pick(around)) : next() < 0.1 ? " .\t" : " ";
        parts.push(word, gap);
        length += word.length + gap.length;
      }
      return parts.join("").slice(0, target);
    };
    const lengths = [40, 47, 48, 49, 56, 63, 64, 65, 95, 96, 127, 128, 129, 191, 192, 193, 300];
    // Half the pairs share most tokens (classes found again in B), half are unrelated.
    const pairs = Array.from({ length: 600 }, (_, i): [string, string] => {
      const a = text(pick(lengths));
      return [a, i % 2 ? text(pick(lengths)) : smallEdits(next, a.split(" ")).join(" ")];
    });
    expect(mismatches(pairs)).toEqual([]);
  });

  it("ships one module: the Worker's fuzzy-wratio.wasm holds the bytes embedded in fuzzy-wratio.wasm.ts", () => {
    const file = readFileSync(join(import.meta.dirname, "../../graders/metrics/fuzzy-wratio.wasm"));
    expect(file.equals(Buffer.from(FUZZY_WRATIO_WASM, "base64"))).toBe(true);
  });

  it("grades a 1 MB text and then holds bounded memory", () => {
    const big = words(200_000).slice(0, 1_000_000);
    const near = big.replace(/mets/g, "jets");
    for (const [a, b] of [
      [big, near],
      [big.slice(0, 5000), big],
      ["new york mets", big],
    ] as const) {
      useFuzzyKernel("js");
      const js = fuzzyMatch(a, b);
      useFuzzyKernel("wasm");
      expect(fuzzyMatch(a, b)).toBe(js);
      expect(wasmMemoryBytes()).toBeLessThanOrEqual(64 << 20);
    }
    expect(fuzzyMatch("new york mets", "new york meats")).toBeCloseTo(0.962962, 5);
  });
});
