/**
 * fuzzy_match: `rapidfuzz.fuzz.WRatio(input, reference, processor=rapidfuzz.utils.default_process) / 100`.
 *
 * Reference: rapidfuzz 3.14 (OpenAI's graders guide: "Fuzzy string match between input and reference, using
 * `rapidfuzz`", and its python-grader example uses exactly `fuzz.WRatio(..., processor=utils.default_process) / 100`).
 * The scorers below follow rapidfuzz's `fuzz_py.py` (ratio, partial_ratio with its window scan, token_set/sort
 * ratios, partial_token_ratio, WRatio's scaling); `default_process` follows the C++ version rapidfuzz actually
 * calls (underscore is not alphanumeric, simple per-character lowercase). Score cut-offs are left out: they only
 * skip work, WRatio's maximum is the same without them.
 */
import { RAPIDFUZZ_NOT_ALNUM } from "./fuzzy-unicode.ts";
import { LcsPattern } from "./lcs.ts";
import { cmpCodePoint, codePoints } from "./text.ts";

const ALNUM = /[\p{L}\p{N}]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range, control characters included.
const ASCII = /^[\x00-\x7f]*$/;
const NON_ALNUM_ASCII = /[^a-z0-9]/g;
const EDGE_SPACES = /^ +| +$/g;

function rapidfuzzAlnum(cp: number): boolean {
  if (!ALNUM.test(String.fromCodePoint(cp))) return false;
  if (cp < 0x870) return true;
  // Binary search the (few) ranges rapidfuzz's older tables do not know.
  let lo = 0;
  let hi = RAPIDFUZZ_NOT_ALNUM.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < RAPIDFUZZ_NOT_ALNUM[mid * 2]!) hi = mid - 1;
    else if (cp > RAPIDFUZZ_NOT_ALNUM[mid * 2 + 1]!) lo = mid + 1;
    else return false;
  }
  return true;
}

const lowerCache = new Map<number, string>();

/** rapidfuzz.utils.default_process: non-alphanumerics become spaces, lowercase, trim. */
export function defaultProcess(text: string): string {
  // ASCII text: native lowercase and one replace do it (only [a-z0-9] are alphanumeric there).
  if (ASCII.test(text)) return text.toLowerCase().replace(NON_ALNUM_ASCII, " ").replace(EDGE_SPACES, "");
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out +=
        (cp >= 0x30 && cp <= 0x39) || (cp >= 0x61 && cp <= 0x7a)
          ? ch
          : cp >= 0x41 && cp <= 0x5a
            ? ch.toLowerCase()
            : " ";
      continue;
    }
    let mapped = lowerCache.get(cp);
    if (mapped === undefined) {
      // Simple (one-to-one) lowercase mapping: only U+0130 has a multi-character full mapping among alnums.
      mapped = rapidfuzzAlnum(cp) ? (cp === 0x130 ? "i" : ch.toLowerCase()) : " ";
      lowerCache.set(cp, mapped);
    }
    out += mapped;
  }
  return out.replace(EDGE_SPACES, "");
}

/** Indel normalized similarity in [0, 1] of two code-point sequences. */
function indelSimilarity(a: number[], b: number[]): number {
  const lensum = a.length + b.length;
  if (lensum === 0) return 1;
  const lcs = a.length <= b.length ? new LcsPattern(a).lcs(b) : new LcsPattern(b).lcs(a);
  return 1 - (lensum - 2 * lcs) / lensum;
}

/** fuzz.ratio on code-point sequences, 0..100. */
function ratioCp(a: number[], b: number[]): number {
  return indelSimilarity(a, b) * 100;
}

/**
 * The window scan of rapidfuzz's `_partial_ratio_impl` (s1 is the shorter sequence), 0..1: the best Indel similarity
 * of s1 against every prefix of s2 shorter than s1, every window of s2 as long as s1, and every suffix of s2 at most
 * as long as s1. Prefixes and suffixes come from one bit-parallel sweep each; full windows are skipped when a
 * character-count bound on their LCS cannot beat the best so far. Same maximum, far fewer LCS runs.
 */
function partialRatioImpl(s1: number[], s2: number[]): number {
  const len1 = s1.length;
  const len2 = s2.length;
  const pattern = new LcsPattern(s1);
  const simOf = (lcs: number, windowLen: number) => {
    const lensum = len1 + windowLen;
    return 1 - (lensum - 2 * lcs) / lensum;
  };
  let best = 0;
  const prefixes = pattern.lcsSweep(s2, 0, 1, Math.min(len1 - 1, len2));
  for (let i = 1; i < len1 && i <= len2; i++) {
    if (!pattern.has(s2[i - 1]!)) continue;
    const r = simOf(prefixes[i]!, i);
    if (r > best) {
      best = r;
      if (best === 1) return 1;
    }
  }
  if (len2 > len1) {
    // Full windows start at 0..len2-len1-1. Sliding a window by one position changes its LCS by at most one, so
    // between two evaluated starts a and b no window beats (lcs(a) + lcs(b) + (b - a)) / 2: bisect, and drop any
    // span that cannot beat the best so far (rapidfuzz 3 prunes its scan the same way).
    const last = len2 - len1 - 1;
    const known = new Int32Array(last + 1).fill(-1);
    const lcsAt = (i: number) => {
      if (known[i]! < 0) known[i] = pattern.lcs(s2, i, i + len1);
      return known[i]!;
    };
    const stack: [number, number][] = [[0, last]];
    while (stack.length > 0) {
      const [a, b] = stack.pop()!;
      for (const i of a === b ? [a] : [a, b]) {
        const r = simOf(lcsAt(i), len1);
        if (r > best) {
          best = r;
          if (best === 1) return 1;
        }
      }
      if (b - a < 2) continue;
      const bound = Math.min(len1, Math.floor((lcsAt(a) + lcsAt(b) + (b - a)) / 2));
      if (simOf(bound, len1) <= best) continue;
      const mid = a + ((b - a) >> 1);
      stack.push([mid, b], [a, mid]);
    }
  }
  const reversed = new LcsPattern([...s1].reverse());
  const count = Math.min(len1, len2);
  const suffixes = reversed.lcsSweep(s2, len2 - 1, -1, count);
  for (let i = Math.max(0, len2 - len1); i < len2; i++) {
    if (!pattern.has(s2[i]!)) continue;
    const r = simOf(suffixes[len2 - i]!, len2 - i);
    if (r > best) {
      best = r;
      if (best === 1) return 1;
    }
  }
  return best;
}

/** fuzz.partial_ratio on code-point sequences, 0..100. */
function partialRatioCp(a: number[], b: number[]): number {
  if (a.length === 0 && b.length === 0) return 100;
  const [shorter, longer] = a.length <= b.length ? [a, b] : [b, a];
  let score = partialRatioImpl(shorter, longer) * 100;
  if (score !== 100 && a.length === b.length) score = Math.max(score, partialRatioImpl(longer, shorter) * 100);
  return score;
}

const SURROGATE = /[\ud800-\udfff]/;

function sortedJoin(tokens: Iterable<string>): string {
  const list = [...tokens];
  // Without surrogates, UTF-16 order is code-point order and the built-in sort is exact (and much faster).
  return list.some((t) => SURROGATE.test(t)) ? list.sort(cmpCodePoint).join(" ") : list.sort().join(" ");
}

function splitTokens(s: string): string[] {
  return s.split(" ").filter((t) => t.length > 0);
}

function normDistance(dist: number, lensum: number): number {
  return lensum ? 100 - (100 * dist) / lensum : 100;
}

function tokenSetRatio(tokensA: Set<string>, tokensB: Set<string>): number {
  if (tokensA.size === 0 || tokensB.size === 0) return 0;
  const intersect: string[] = [];
  const diffAB: string[] = [];
  const diffBA: string[] = [];
  for (const t of tokensA) (tokensB.has(t) ? intersect : diffAB).push(t);
  for (const t of tokensB) if (!tokensA.has(t)) diffBA.push(t);
  if (intersect.length > 0 && (diffAB.length === 0 || diffBA.length === 0)) return 100;
  const ab = codePoints(sortedJoin(diffAB));
  const ba = codePoints(sortedJoin(diffBA));
  const sectLen = codePoints(intersect.join(" ")).length;
  const sep = sectLen !== 0 ? 1 : 0;
  const sectAbLen = sectLen + sep + ab.length;
  const sectBaLen = sectLen + sep + ba.length;
  const lcs = ab.length === 0 || ba.length === 0 ? 0 : new LcsPattern(ab).lcs(ba);
  const dist = ab.length + ba.length - 2 * lcs;
  const result = normDistance(dist, sectAbLen + sectBaLen);
  if (!sectLen) return result;
  const sectAbRatio = normDistance(sep + ab.length, sectLen + sectAbLen);
  const sectBaRatio = normDistance(sep + ba.length, sectLen + sectBaLen);
  return Math.max(result, sectAbRatio, sectBaRatio);
}

function tokenRatio(t1: string[], t2: string[]): number {
  const sortRatio = ratioCp(codePoints(sortedJoin(t1)), codePoints(sortedJoin(t2)));
  return Math.max(tokenSetRatio(new Set(t1), new Set(t2)), sortRatio);
}

function partialTokenRatio(t1: string[], t2: string[]): number {
  const setA = new Set(t1);
  const setB = new Set(t2);
  for (const t of setA) if (setB.has(t)) return 100;
  const result = partialRatioCp(codePoints(sortedJoin(t1)), codePoints(sortedJoin(t2)));
  // With no shared token, the differences are the whole sets; only duplicates make them differ from the lists.
  if (t1.length === setA.size && t2.length === setB.size) return result;
  return Math.max(result, partialRatioCp(codePoints(sortedJoin(setA)), codePoints(sortedJoin(setB))));
}

/** rapidfuzz.fuzz.WRatio on already-processed strings, 0..100. */
export function wratio(s1: string, s2: string): number {
  if (!s1 || !s2) return 0;
  const a = codePoints(s1);
  const b = codePoints(s2);
  const UNBASE_SCALE = 0.95;
  const lenRatio = a.length > b.length ? a.length / b.length : b.length / a.length;
  let end = ratioCp(a, b);
  if (end === 100) return 100;
  const t1 = splitTokens(s1);
  const t2 = splitTokens(s2);
  if (lenRatio < 1.5) return Math.max(end, tokenRatio(t1, t2) * UNBASE_SCALE);
  const PARTIAL_SCALE = lenRatio <= 8.0 ? 0.9 : 0.6;
  end = Math.max(end, partialRatioCp(a, b) * PARTIAL_SCALE);
  return Math.max(end, partialTokenRatio(t1, t2) * UNBASE_SCALE * PARTIAL_SCALE);
}

/** The fuzzy_match score in [0, 1]. */
export function fuzzyMatch(input: string, reference: string): number {
  return wratio(defaultProcess(input), defaultProcess(reference)) / 100;
}
