/**
 * fuzzy_match: `rapidfuzz.fuzz.WRatio(input, reference, processor=rapidfuzz.utils.default_process) / 100`.
 *
 * Reference: rapidfuzz 3.14 (OpenAI's graders guide: "Fuzzy string match between input and reference, using
 * `rapidfuzz`", and its python-grader example uses exactly `fuzz.WRatio(..., processor=utils.default_process) / 100`).
 * The scorers follow rapidfuzz's `fuzz_py.py` and rapidfuzz-cpp's `fuzz_impl.hpp` (ratio, partial_ratio with its
 * window scan, token_set/sort ratios, partial_token_ratio, WRatio's scaling), including how WRatio hands each scorer
 * the best score so far as a cut-off: a scorer may skip work that cannot beat it, so WRatio's maximum is unchanged.
 *
 * This file is the JS pipeline, what workerd runs: integer buffers reused from call to call (fuzzy-process.ts,
 * fuzzy-indel.ts), no strings, sets or arrays built per grading. Where WebAssembly can be compiled (Node), the same
 * algorithm runs whole in one WebAssembly module instead (fuzzy-kernel.ts, fuzzy-wratio.as.ts), with the same scores.
 */
import { Pattern } from "./fuzzy-indel.ts";
import { wasmKernelAvailable, wasmWRatio } from "./fuzzy-kernel.ts";
import { alphabetSize, ProcessedText, trimAlphabet } from "./fuzzy-process.ts";

/** A space-joined sequence of tokens (ids), built into a reusable buffer. */
class Joined {
  ids = new Int32Array(256);
  len = 0;
  words = 0;

  reset(): void {
    this.len = 0;
    this.words = 0;
  }

  push(src: Int32Array, start: number, end: number): void {
    const need = this.len + 1 + end - start;
    if (this.ids.length < need) {
      const bigger = new Int32Array(Math.max(need, this.ids.length * 2));
      bigger.set(this.ids.subarray(0, this.len));
      this.ids = bigger;
    }
    const ids = this.ids;
    let len = this.len;
    if (this.words > 0) ids[len++] = 0x20;
    for (let i = start; i < end; i++) ids[len++] = src[i]!;
    this.len = len;
    this.words++;
  }
}

const textA = new ProcessedText();
const textB = new ProcessedText();
const pattern = new Pattern();
const reversed = new Pattern();
const sortedA = new Joined();
const sortedB = new Joined();
const diffAB = new Joined();
const diffBA = new Joined();
let sectCount = 0;
let sectLen = 0;

let alpha = 256;

/** Smallest LCS whose score can exceed `cutoff`, from the LCS at which the score equals it (rounded down a hair). */
function minLcsFor(lcsAtCutoff: number): number {
  return lcsAtCutoff > 0 ? Math.ceil(lcsAtCutoff - 1e-9) : 0;
}

/** LCS of a[ao, ao+al) and b[bo, bo+bl); exact when it is at least `minLcs`, otherwise some smaller value. */
function lcsOf(a: Int32Array, ao: number, al: number, b: Int32Array, bo: number, bl: number, minLcs: number): number {
  if (Math.min(al, bl) < minLcs) return 0;
  // A common prefix and suffix are part of every longest common subsequence.
  let prefix = 0;
  while (prefix < al && prefix < bl && a[ao + prefix] === b[bo + prefix]) prefix++;
  let suffix = 0;
  while (suffix < al - prefix && suffix < bl - prefix && a[ao + al - 1 - suffix] === b[bo + bl - 1 - suffix]) suffix++;
  const common = prefix + suffix;
  const restA = al - common;
  const restB = bl - common;
  if (restA === 0 || restB === 0) return common;
  const rest = Math.max(0, minLcs - common);
  if (restA <= restB) {
    pattern.build(a, ao + prefix, ao + al - suffix, alpha);
    return common + pattern.lcs(b, bo + prefix, bo + bl - suffix, rest);
  }
  pattern.build(b, bo + prefix, bo + bl - suffix, alpha);
  return common + pattern.lcs(a, ao + prefix, ao + al - suffix, rest);
}

/**
 * fuzz.ratio (Indel normalized similarity, 0..100); 0 when it cannot exceed `cutoff`. `knownLcs` is a common
 * subsequence length already found: the LCS is at least that, so the band needs no more.
 */
function ratio(a: Int32Array, al: number, b: Int32Array, bl: number, cutoff: number, knownLcs = 0): number {
  const lensum = al + bl;
  if (lensum === 0) return 100;
  const minLcs = Math.max(knownLcs, minLcsFor((cutoff * lensum) / 200));
  const lcs = lcsOf(a, 0, al, b, 0, bl, minLcs);
  if (lcs < minLcs) return 0;
  return (1 - (lensum - 2 * lcs) / lensum) * 100;
}

/**
 * The window scan of rapidfuzz's `_partial_ratio_impl` (s1 is the shorter sequence), 0..100: the best Indel
 * similarity of s1 against every prefix of s2 shorter than s1, every window of s2 as long as s1, and every suffix of
 * s2 at most as long as s1; 0 when none exceeds `cutoff`. Prefixes and suffixes come from one bit-parallel sweep
 * each; full windows are bisected, skipping spans whose LCS bound cannot beat the best so far (rapidfuzz 3 prunes its
 * scan the same way).
 */
function partialRatioImpl(s1: Int32Array, len1: number, s2: Int32Array, len2: number, cutoff: number): number {
  pattern.build(s1, 0, len1, alpha);
  let bar = cutoff / 100; // what a window must beat
  let found = 0;
  const simOf = (lcs: number, windowLen: number) => 1 - (len1 + windowLen - 2 * lcs) / (len1 + windowLen);
  const prefixCount = Math.min(len1 - 1, len2);
  if (prefixCount > 0) {
    const prefixes = pattern.sweep(s2, 0, 1, prefixCount);
    for (let i = 1; i <= prefixCount; i++) {
      if (!pattern.has(s2[i - 1]!)) continue;
      const r = simOf(prefixes[i]!, i);
      if (r > bar) {
        bar = found = r;
        if (r === 1) return 100;
      }
    }
  }
  if (len2 > len1) {
    // Full windows start at 0..len2-len1-1. Sliding a window by one changes its LCS by at most one, so between two
    // evaluated starts a and b no window beats (lcs(a) + lcs(b) + (b - a)) / 2: bisect, and drop any span that
    // cannot beat the best so far.
    const last = len2 - len1 - 1;
    const known = windowScratch(last + 1);
    const lcsAt = (i: number) => {
      if (known[i]! < 0) known[i] = pattern.lcs(s2, i, i + len1);
      return known[i]!;
    };
    // Depth-first with the left half on top: the stack never holds more than one pair per level (< 64 pairs).
    const stack = stackScratch;
    let top = 0;
    stack[top++] = 0;
    stack[top++] = last;
    while (top > 0) {
      const b = stack[--top]!;
      const a = stack[--top]!;
      const lcs = Math.max(lcsAt(a), lcsAt(b));
      const r = simOf(lcs, len1);
      if (r > bar) {
        bar = found = r;
        if (r === 1) return 100;
      }
      if (b - a < 2) continue;
      const bound = Math.min(len1, Math.floor((lcsAt(a) + lcsAt(b) + (b - a)) / 2));
      if (simOf(bound, len1) <= bar) continue;
      const mid = a + ((b - a) >> 1);
      stack[top++] = mid;
      stack[top++] = b;
      stack[top++] = a;
      stack[top++] = mid;
    }
  }
  const suffixCount = Math.min(len1, len2);
  reversed.build(s1, 0, len1, alpha, true);
  const suffixes = reversed.sweep(s2, len2 - 1, -1, suffixCount);
  for (let i = len2 - suffixCount; i < len2; i++) {
    if (!pattern.has(s2[i]!)) continue;
    const r = simOf(suffixes[len2 - i]!, len2 - i);
    if (r > bar) {
      bar = found = r;
      if (r === 1) return 100;
    }
  }
  return found * 100;
}

let windowBuf = new Int32Array(256);
const stackScratch = new Int32Array(256);

function windowScratch(n: number): Int32Array {
  if (windowBuf.length < n) windowBuf = new Int32Array(Math.max(n, windowBuf.length * 2));
  windowBuf.fill(-1, 0, n);
  return windowBuf;
}

/** fuzz.partial_ratio, 0..100; 0 when it cannot exceed `cutoff`. */
function partialRatio(a: Int32Array, al: number, b: Int32Array, bl: number, cutoff: number): number {
  if (al === 0 || bl === 0) return al === bl ? 100 : 0;
  let score = al <= bl ? partialRatioImpl(a, al, b, bl, cutoff) : partialRatioImpl(b, bl, a, al, cutoff);
  if (score !== 100 && al === bl) score = Math.max(score, partialRatioImpl(b, bl, a, al, Math.max(cutoff, score)));
  return score;
}

/** Compares token i of `a` with token j of `b` by code point. */
function compareAcross(a: ProcessedText, i: number, b: ProcessedText, j: number): number {
  let x = a.starts[i]!;
  let y = b.starts[j]!;
  const endX = a.ends[i]!;
  const endY = b.ends[j]!;
  while (x < endX && y < endY) {
    const d = a.cps[x]! - b.cps[y]!;
    if (d !== 0) return d;
    x++;
    y++;
  }
  return endX - x - (endY - y);
}

/** Sorted position after p and the copies of its token. */
function nextDistinct(text: ProcessedText, p: number): number {
  let q = p + 1;
  while (q < text.tokens && text.compare(text.order[p]!, text.order[q]!) === 0) q++;
  return q;
}

/** Sorted token lists (sort ratios) and the set decomposition (set ratios) of both texts, by one merge. */
function decompose(): void {
  const ia = textA.seq;
  const ib = textB.seq;
  sortedA.reset();
  sortedB.reset();
  diffAB.reset();
  diffBA.reset();
  for (let k = 0; k < textA.tokens; k++) {
    const t = textA.order[k]!;
    sortedA.push(ia, textA.starts[t]!, textA.ends[t]!);
  }
  for (let k = 0; k < textB.tokens; k++) {
    const t = textB.order[k]!;
    sortedB.push(ib, textB.starts[t]!, textB.ends[t]!);
  }
  sectCount = 0;
  sectLen = 0;
  let p = 0;
  let q = 0;
  while (p < textA.tokens || q < textB.tokens) {
    const ta = textA.order[p]!;
    const tb = textB.order[q]!;
    const cmp = p >= textA.tokens ? 1 : q >= textB.tokens ? -1 : compareAcross(textA, ta, textB, tb);
    if (cmp === 0) {
      sectLen += textA.ends[ta]! - textA.starts[ta]! + (sectCount > 0 ? 1 : 0);
      sectCount++;
      p = nextDistinct(textA, p);
      q = nextDistinct(textB, q);
    } else if (cmp < 0) {
      diffAB.push(ia, textA.starts[ta]!, textA.ends[ta]!);
      p = nextDistinct(textA, p);
    } else {
      diffBA.push(ib, textB.starts[tb]!, textB.ends[tb]!);
      q = nextDistinct(textB, q);
    }
  }
}

function normDistance(dist: number, lensum: number): number {
  return lensum ? 100 - (100 * dist) / lensum : 100;
}

/** The parts of rapidfuzz's `token_ratio` that need no LCS: 100 when one token set holds the other, else the ratios
 * of the intersection against each side (0 with no intersection). */
function tokenSetRatioWithoutLcs(): number {
  if (sectCount > 0 && (diffAB.words === 0 || diffBA.words === 0)) return 100;
  if (!sectLen) return 0;
  const sectAbLen = sectLen + 1 + diffAB.len;
  const sectBaLen = sectLen + 1 + diffBA.len;
  return Math.max(normDistance(1 + diffAB.len, sectLen + sectAbLen), normDistance(1 + diffBA.len, sectLen + sectBaLen));
}

/** Whether the set differences are the sorted token lists: no token shared, and none repeated in either text. */
function differencesAreLists(): boolean {
  return sectCount === 0 && textA.tokens === diffAB.words && textB.tokens === diffBA.words;
}

/** The rest of `token_ratio`: the differences' Indel ratio and token_sort_ratio; 0 when they cannot exceed `cutoff`. */
function tokenRatioWithLcs(cutoff: number): number {
  const ab = diffAB.len;
  const ba = diffBA.len;
  const sep = sectLen !== 0 ? 1 : 0;
  const lensum = 2 * (sectLen + sep) + ab + ba;
  let best = 0;
  const minLcs = minLcsFor((ab + ba - ((100 - cutoff) * lensum) / 100) / 2);
  // The differences' LCS: skipped (as if below the cut-off) when their character counts already rule it out.
  const lcs =
    ab === 0 || ba === 0 || Math.min(ab, ba) < minLcs || diffLcsBound() < minLcs
      ? 0
      : lcsOf(diffAB.ids, 0, ab, diffBA.ids, 0, ba, minLcs);
  if (lcs >= minLcs) best = normDistance(ab + ba - 2 * lcs, lensum);
  // When the differences are the lists, token_sort_ratio is the ratio just found, or 0 below the cut-off (the
  // WebAssembly pipeline does the same, so the two stay equal to the last bit).
  if (differencesAreLists()) return best;
  // token_sort_ratio: skipped (it would be 0) when no LCS the lists' characters allow can exceed the cut-off.
  const sortCutoff = Math.max(cutoff, best);
  if (sortedLcsBound() < minLcsFor((sortCutoff * (sortedA.len + sortedB.len)) / 200)) return best;
  return Math.max(best, ratio(sortedA.ids, sortedA.len, sortedB.ids, sortedB.len, sortCutoff));
}

let counts = new Int32Array(256);

/** How many ids other than the space a[0, aLen) and b[0, bLen) share: per id, the fewer of its counts in the two. */
function sharedIds(a: Int32Array, aLen: number, b: Int32Array, bLen: number): number {
  if (counts.length < alpha) counts = new Int32Array(Math.max(alpha, counts.length * 2));
  for (let i = 0; i < aLen; i++) counts[a[i]!]! += 1;
  counts[0x20] = 0;
  let shared = 0;
  for (let j = 0; j < bLen; j++) {
    const id = b[j]!;
    if (counts[id]! > 0) {
      shared++;
      counts[id]! -= 1;
    }
  }
  for (let i = 0; i < aLen; i++) counts[a[i]!] = 0;
  return shared;
}

/**
 * Upper bounds on an LCS from character counts: the ids two space-joined token lists share, plus one space fewer than
 * the shorter list's tokens. For the set differences, and for the sorted lists (which hold the texts' ids).
 */
function diffLcsBound(): number {
  return Math.min(diffAB.words, diffBA.words) - 1 + sharedIds(diffAB.ids, diffAB.len, diffBA.ids, diffBA.len);
}

function sortedLcsBound(): number {
  return Math.min(textA.tokens, textB.tokens) - 1 + sharedIds(textA.seq, textA.len, textB.seq, textB.len);
}

/** rapidfuzz's `partial_token_ratio`, 0..100; 0 when it cannot exceed `cutoff`. */
function partialTokenRatio(cutoff: number): number {
  if (sectCount > 0) return 100;
  const result = partialRatio(sortedA.ids, sortedA.len, sortedB.ids, sortedB.len, cutoff);
  if (differencesAreLists()) return result;
  return Math.max(result, partialRatio(diffAB.ids, diffAB.len, diffBA.ids, diffBA.len, Math.max(cutoff, result)));
}

/**
 * A lower bound on the LCS of the two texts (ids a and b), usually equal to it: equal tokens are matched greedily in
 * order (a mismatch looks a few tokens ahead on either side), and the stretches between two matched tokens add their
 * own (small) LCS. That is a common subsequence, so the LCS is at least its length; long similar texts share most
 * words in order, so the band of the exact LCS shrinks to the few words around the diagonal.
 */
function tokenMatchLowerBound(a: Int32Array, b: Int32Array): number {
  const LOOKAHEAD = 8;
  const na = textA.tokens;
  const nb = textB.tokens;
  let i = 0;
  let j = 0;
  let total = 0;
  let gapA = 0;
  let gapB = 0;
  while (i < na && j < nb) {
    if (textA.sameToken(i, textB, j)) {
      const startA = textA.starts[i]!;
      const startB = textB.starts[j]!;
      total += lcsOf(a, gapA, startA - gapA, b, gapB, startB - gapB, 0) + textA.ends[i]! - startA;
      gapA = textA.ends[i]!;
      gapB = textB.ends[j]!;
      i++;
      j++;
      continue;
    }
    let skipA = -1;
    let skipB = -1;
    for (let d = 1; d <= LOOKAHEAD && skipA < 0 && skipB < 0; d++) {
      if (i + d < na && textA.sameToken(i + d, textB, j)) skipA = d;
      else if (j + d < nb && textA.sameToken(i, textB, j + d)) skipB = d;
    }
    if (skipA > 0) i += skipA;
    else if (skipB > 0) j += skipB;
    else {
      i++;
      j++;
    }
  }
  return total + lcsOf(a, gapA, textA.len - gapA, b, gapB, textB.len - gapB, 0);
}

/** Whether the two processed texts are equal. */
function sameText(): boolean {
  if (textA.len !== textB.len) return false;
  for (let i = 0; i < textA.len; i++) if (textA.cps[i] !== textB.cps[i]) return false;
  return true;
}

/** Texts up to this many code points together get `ratio` before any token work (see `wratio`). */
const EXACT_FIRST = 400;

/** rapidfuzz.fuzz.WRatio of the two loaded texts, 0..100. */
function wratio(): number {
  const len1 = textA.len;
  const len2 = textB.len;
  if (!len1 || !len2) return 0;
  if (sameText()) return 100;
  alpha = alphabetSize();
  const a = textA.seq;
  const b = textB.seq;
  const UNBASE_SCALE = 0.95;
  const lenRatio = len1 > len2 ? len1 / len2 : len2 / len1;
  // rapidfuzz's own order on short texts, whose exact LCS is cheap: `ratio` first; at 95 or more, token_ratio's
  // cut-off (ratio / 0.95) is at least 100 and WRatio is `ratio` alone. (Long texts: tokens first, their set score
  // is the cut-off of the texts' banded LCS.)
  let end = -1;
  if (lenRatio < 1.5 && len1 + len2 <= EXACT_FIRST && 200 * Math.min(len1, len2) >= 95 * (len1 + len2)) {
    end = ratio(a, len1, b, len2, 0);
    if (end >= 95) return end;
  }
  textA.tokenize();
  textB.tokenize();
  // WRatio is the maximum of its scorers, so they may run in any order: the token decomposition first, since the
  // scores it gives without any LCS (a shared token, the set ratios) are cut-offs that narrow every LCS after it.
  decompose();
  if (lenRatio < 1.5) {
    const setScore = tokenSetRatioWithoutLcs();
    let best = setScore * UNBASE_SCALE;
    // Long texts: the token-match lower bound only where the cut-off leaves the LCS band wide (over 768 code points);
    // narrower, the LCS's own early stop is cheaper (as in fuzzy-wratio.as.ts `wideBand`).
    const wideBand = len1 + len2 - 2 * minLcsFor((best * (len1 + len2)) / 200) > 768;
    if (end < 0) end = ratio(a, len1, b, len2, best, wideBand ? tokenMatchLowerBound(a, b) : 0);
    // At 95 token_ratio (at most 100, scaled by 0.95) cannot raise the maximum.
    if (end >= 95 || setScore === 100) return Math.max(best, end);
    best = Math.max(best, end);
    return Math.max(best, tokenRatioWithLcs(best / UNBASE_SCALE) * UNBASE_SCALE);
  }
  const PARTIAL_SCALE = lenRatio <= 8.0 ? 0.9 : 0.6;
  // partial_token_ratio is 100 as soon as one token is shared.
  let best = sectCount > 0 ? 100 * UNBASE_SCALE * PARTIAL_SCALE : 0;
  end = ratio(a, len1, b, len2, best);
  if (end === 100) return 100;
  best = Math.max(best, end);
  best = Math.max(best, partialRatio(a, len1, b, len2, best / PARTIAL_SCALE) * PARTIAL_SCALE);
  if (sectCount > 0) return best;
  return Math.max(best, partialTokenRatio(best / UNBASE_SCALE / PARTIAL_SCALE) * UNBASE_SCALE * PARTIAL_SCALE);
}

/** The pipeline a test or the bench asked for; null: the WebAssembly one wherever it runs (fuzzy-kernel.ts). */
let pipeline: "wasm" | "js" | null = null;

/** Runs fuzzy_match on the given pipeline from now on (tests and the bench compare the two; "js" is what workerd runs
 * when the Worker brings no compiled module). */
export function useFuzzyKernel(kind: "wasm" | "js"): void {
  pipeline = kind;
}

/** The fuzzy_match score in [0, 1]. */
export function fuzzyMatch(input: string, reference: string): number {
  if (pipeline === "wasm" || (pipeline === null && wasmKernelAvailable())) return wasmWRatio(input, reference) / 100;
  trimAlphabet();
  textA.load(input);
  textB.load(reference);
  return wratio() / 100;
}
