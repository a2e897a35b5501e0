// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * rapidfuzz's WRatio in WebAssembly, default_process included: the algorithm of fuzzy.ts's JS pipeline with the same
 * cut-offs in the same order, so the scores are the JS pipeline's to the last bit (test/graders/fuzzy-wasm.unit.test.ts).
 * One call per grading (fuzzy-kernel.ts):
 *
 *   const at = input(maxA + maxB, 0); // room for that many UTF-16 code units: A goes at `at`, B at unitsB()
 *   const score = wratio(unitsOfA, unitsOfB); // 0..100
 *
 * Memory: the BMP map (fixed), then the texts' regions (LCS ids and UTF-16), the id-indexed mask tables, the class
 * hash table and the wide-id table (grown to fit the largest grading so far), then a per-grading arena that every
 * grading starts afresh.
 *
 * Generated artefact: fuzzy-wratio.wasm.ts. Regenerate after editing: npx tsx graders/metrics/fuzzy-kernel-build.ts
 */
import {
  alloc,
  at32,
  bestWindow,
  buildPattern,
  clearPattern,
  ensure,
  has,
  lcs,
  placeTables,
  releaseTo,
  same32,
  set32,
  setIdCount,
  sweep,
  top,
} from "./fuzzy-wasm-lcs.as.ts";
import { decode, idCount, placeBmpMap, placeWideIds, startIds } from "./fuzzy-wasm-process.as.ts";
import {
  diffAB,
  diffBA,
  diffIds,
  diffLcsBound,
  placeSlots,
  sectCount,
  sectLen,
  sortedA,
  sortedB,
  sortedIds,
  sortedLcsBound,
  textA,
  textB,
  tokenize,
  trim,
} from "./fuzzy-wasm-text.as.ts";

let textAt: usize = 0;
let unitsAt: usize = 0;
let textCap = 0;
let arena: usize = 0;
/** A count per LCS id, all zeros between uses (`sortedLcsBound`, `diffLcsBound`). */
let counts: usize = 0;
const BMP_MAP: usize = (__heap_base + 7) & ~usize(7);

/**
 * Makes room for texts of up to maxA + maxB UTF-16 code units; returns where to write them: A at the address
 * returned, B at `unitsB()` (each region holds that many code units).
 */
export function input(maxA: i32, maxB: i32): usize {
  const n = maxA + maxB;
  if (textAt === 0 || n > textCap) layout(max(n, max(textCap * 2, 1024)));
  return unitsAt;
}

/** Where B's code units go. */
export function unitsB(): usize {
  return unitsAt + (usize(textCap) << 1);
}

function layout(cap: i32): void {
  // Slots for the class hash table: a power of two at least twice the most tokens (cap / 2 + 2) the texts can hold.
  let slotCap = 64;
  while (slotCap < cap + 4) slotCap <<= 1;
  // Slots for the wide-id table: at least twice the distinct code points the texts can hold (and there are fewer
  // than 2^20 + 2^16 in all).
  let wideCap = 64;
  while (wideCap < 2 * cap && wideCap < 1 << 21) wideCap <<= 1;
  if (textAt === 0) {
    ensure(BMP_MAP + (0x10000 << 2));
    placeBmpMap(BMP_MAP);
  }
  textCap = cap;
  // The ids, then the UTF-16 code units (A's, B's), then the tables. decode reads up to 32 bytes past a text's code
  // units (into B's region or the tables) and writes up to 60 bytes past its ids (into B's ids, or A's code units,
  // which are decoded first): both stay in memory the module owns and never reach what is still to be read.
  textAt = BMP_MAP + (0x10000 << 2);
  unitsAt = textAt + (usize(cap) << 2);
  const alpha = usize(256 + cap);
  const direct = (unitsAt + (usize(cap) << 2) + 15) & ~usize(15);
  const rowOf = direct + (alpha << 4);
  const rowIds = rowOf + (alpha << 2);
  counts = rowIds + ((alpha + 1) << 2);
  const slots = (counts + (alpha << 2) + 7) & ~usize(7);
  const wideSlots = slots + (usize(slotCap) << 3);
  arena = wideSlots + (usize(wideCap) << 3);
  ensure(arena);
  memory.fill(direct, 0, arena - direct);
  placeTables(direct, rowOf, rowIds);
  placeSlots(slots, slotCap);
  placeWideIds(wideSlots, wideCap);
}

/** Smallest LCS whose score can exceed `cutoff`, from the LCS at which the score equals it (rounded down a hair). */
function minLcsFor(lcsAtCutoff: f64): i32 {
  return lcsAtCutoff > 0 ? i32(Math.ceil(lcsAtCutoff - 1e-9)) : 0;
}

/** LCS of a[ao, ao+al) and b[bo, bo+bl); exact when it is at least `minLcs`, otherwise some smaller value. */
function lcsOf(a: usize, ao: i32, al: i32, b: usize, bo: i32, bl: i32, minLcs: i32): i32 {
  if (min(al, bl) < minLcs) return 0;
  // A common prefix and suffix are part of every longest common subsequence.
  let prefix = 0;
  while (prefix < al && prefix < bl && at32(a, ao + prefix) === at32(b, bo + prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < al - prefix &&
    suffix < bl - prefix &&
    at32(a, ao + al - 1 - suffix) === at32(b, bo + bl - 1 - suffix)
  ) {
    suffix++;
  }
  const common = prefix + suffix;
  const restA = al - common;
  const restB = bl - common;
  if (restA === 0 || restB === 0) return common;
  const rest = max(0, minLcs - common);
  const mark = top;
  let found = 0;
  if (restA <= restB) {
    buildPattern(a, ao + prefix, ao + al - suffix, false);
    found = lcs(b, bo + prefix, bo + bl - suffix, rest);
  } else {
    buildPattern(b, bo + prefix, bo + bl - suffix, false);
    found = lcs(a, ao + prefix, ao + al - suffix, rest);
  }
  releaseTo(mark);
  return common + found;
}

/** fuzz.ratio (0..100); 0 when it cannot exceed `cutoff`. `knownLcs`: a common subsequence length already found. */
function ratio(a: usize, al: i32, b: usize, bl: i32, cutoff: f64, knownLcs: i32): f64 {
  const lensum = al + bl;
  if (lensum === 0) return 100;
  const minLcs = max(knownLcs, minLcsFor((cutoff * f64(lensum)) / 200));
  const found = lcsOf(a, 0, al, b, 0, bl, minLcs);
  if (found < minLcs) return 0;
  return (1 - f64(lensum - 2 * found) / f64(lensum)) * 100;
}

// partial_ratio's best window so far (what a window must beat, the best found) and its needle's length.
let bar: f64 = 0;
let found: f64 = 0;
let needleLen = 0;
const stack = memory.data(64 * 8 * 4);

function simOf(common: i32, windowLen: i32): f64 {
  return 1 - f64(needleLen + windowLen - 2 * common) / f64(needleLen + windowLen);
}

/** Takes the window's similarity if it beats the bar; true when it is perfect. */
function offer(common: i32, windowLen: i32): bool {
  const r = simOf(common, windowLen);
  if (r > bar) {
    bar = found = r;
    if (r === 1) return true;
  }
  return false;
}

/** The prefix (dir 1) or suffix (dir -1) windows of s2 up to `count` long, by one sweep of the pattern. */
function edgeWindows(s2: usize, start: i32, dir: i32, count: i32): bool {
  const mark = top;
  const out = alloc(usize(count + 1) << 2);
  sweep(s2, start, dir, count, out);
  let j = start;
  for (let k = 1; k <= count; k++, j += dir) {
    if (has(at32(s2, j)) && offer(at32(out, k), k)) {
      releaseTo(mark);
      return true;
    }
  }
  releaseTo(mark);
  return false;
}

/** LCS of the needle and the window of s2 at `i`, computed once (known: -1 until then). */
function windowLcs(known: usize, s2: usize, i: i32): i32 {
  let v = at32(known, i);
  if (v < 0) {
    v = lcs(s2, i, i + needleLen, 0);
    set32(known, i, v);
  }
  return v;
}

/**
 * Full windows times the needle's length up to which `partialRatioImpl` computes every window (`bestWindow`) instead
 * of bisecting: the bisection evaluates a quarter to a half of the windows, but each of its steps is a branch the
 * predictor cannot know. Measured on the corpus's partial pairs (2026-11-25, A/B in one process): under 50 characters
 * 1.17x, at 50-199 1.09x with 800; 0.96x with 2000 and 0.91x with every window.
 */
const WINDOWS_AT_ONCE = 800;

/**
 * The window scan of rapidfuzz's `_partial_ratio_impl` (s1 is the shorter), 0..100; 0 when no window exceeds
 * `cutoff`. Prefixes and suffixes come from one sweep each; full windows are all computed when few
 * (`WINDOWS_AT_ONCE`), else bisected, skipping spans whose LCS bound (a slide by one changes the LCS by at most one)
 * cannot beat the best so far.
 */
function partialRatioImpl(s1: usize, len1: i32, s2: usize, len2: i32, cutoff: f64): f64 {
  const mark = top;
  buildPattern(s1, 0, len1, false);
  needleLen = len1;
  bar = cutoff / 100;
  found = 0;
  const prefixCount = min(len1 - 1, len2);
  if (prefixCount > 0 && edgeWindows(s2, 0, 1, prefixCount)) return done(mark, 100);
  if (len2 > len1 && len1 <= 64 && (len2 - len1) * len1 <= WINDOWS_AT_ONCE) {
    // Few enough windows: all of them, four at a time without a branch, cost less than the bisection's steps.
    if (offer(bestWindow(s2, 0, len2 - len1 - 1), len1)) return done(mark, 100);
  } else if (len2 > len1) {
    const last = len2 - len1 - 1;
    const known = alloc(usize(last + 1) << 2);
    for (let i = 0; i <= last; i++) set32(known, i, -1);
    // Depth-first with the left half on top: the stack never holds more than one pair per level.
    let sp = 0;
    set32(stack, sp++, 0);
    set32(stack, sp++, last);
    while (sp > 0) {
      const b = at32(stack, --sp);
      const a = at32(stack, --sp);
      const la = windowLcs(known, s2, a);
      const lb = windowLcs(known, s2, b);
      if (offer(max(la, lb), len1)) return done(mark, 100);
      if (b - a < 2) continue;
      const bound = min(len1, (la + lb + (b - a)) >> 1);
      if (simOf(bound, len1) <= bar) continue;
      const mid = a + ((b - a) >> 1);
      set32(stack, sp++, mid);
      set32(stack, sp++, b);
      set32(stack, sp++, a);
      set32(stack, sp++, mid);
    }
  }
  const suffixCount = min(len1, len2);
  releaseTo(mark);
  buildPattern(s1, 0, len1, true);
  if (edgeWindows(s2, len2 - 1, -1, suffixCount)) return done(mark, 100);
  return done(mark, found * 100);
}

function done(mark: usize, score: f64): f64 {
  releaseTo(mark);
  return score;
}

/** fuzz.partial_ratio, 0..100; 0 when it cannot exceed `cutoff`. */
function partialRatio(a: usize, al: i32, b: usize, bl: i32, cutoff: f64): f64 {
  if (al === 0 || bl === 0) return al === bl ? 100 : 0;
  let score = al <= bl ? partialRatioImpl(a, al, b, bl, cutoff) : partialRatioImpl(b, bl, a, al, cutoff);
  if (score !== 100 && al === bl) score = max(score, partialRatioImpl(b, bl, a, al, max(cutoff, score)));
  return score;
}

function normDistance(dist: i32, lensum: i32): f64 {
  return lensum ? 100 - (100 * f64(dist)) / f64(lensum) : 100;
}

/** 100 when one token set holds the other, else the intersection's ratios against each side (0 with none). */
function tokenSetRatioWithoutLcs(): f64 {
  if (sectCount > 0 && (diffAB.words === 0 || diffBA.words === 0)) return 100;
  if (!sectLen) return 0;
  const sectAbLen = sectLen + 1 + diffAB.len;
  const sectBaLen = sectLen + 1 + diffBA.len;
  return max(normDistance(1 + diffAB.len, sectLen + sectAbLen), normDistance(1 + diffBA.len, sectLen + sectBaLen));
}

/** Whether the set differences are the sorted token lists: no token shared, and none repeated in either text. */
function differencesAreLists(): bool {
  return sectCount === 0 && textA.tokens === diffAB.words && textB.tokens === diffBA.words;
}

/** The rest of `token_ratio`: the differences' Indel ratio and token_sort_ratio; 0 when they cannot exceed `cutoff`. */
function tokenRatioWithLcs(cutoff: f64): f64 {
  const ab = diffAB.len;
  const ba = diffBA.len;
  const sep = sectLen !== 0 ? 1 : 0;
  const lensum = 2 * (sectLen + sep) + ab + ba;
  let best: f64 = 0;
  const minLcs = minLcsFor((f64(ab + ba) - ((100 - cutoff) * f64(lensum)) / 100) / 2);
  let common = 0;
  // The differences' LCS: skipped (as if below the cut-off) when their character counts already rule it out.
  if (ab !== 0 && ba !== 0 && min(ab, ba) >= minLcs && diffLcsBound(counts) >= minLcs) {
    diffIds();
    common = lcsOf(diffAB.ids, 0, ab, diffBA.ids, 0, ba, minLcs);
  }
  if (common >= minLcs) best = normDistance(ab + ba - 2 * common, lensum);
  // When the differences are the lists, token_sort_ratio is the ratio just found, or 0 below the cut-off (as in
  // fuzzy.ts).
  if (differencesAreLists()) return best;
  // token_sort_ratio: skipped (it would be 0) when no LCS the lists' characters allow can exceed the cut-off.
  const sortCutoff = max(cutoff, best);
  const sortMin = minLcsFor((sortCutoff * f64(sortedA.len + sortedB.len)) / 200);
  if (sortedLcsBound(counts, sortMin) < sortMin) return best;
  sortedIds();
  return max(best, ratio(sortedA.ids, sortedA.len, sortedB.ids, sortedB.len, sortCutoff, 0));
}

/** rapidfuzz's `partial_token_ratio`, 0..100; 0 when it cannot exceed `cutoff`. */
function partialTokenRatio(cutoff: f64): f64 {
  if (sectCount > 0) return 100;
  sortedIds();
  const result = partialRatio(sortedA.ids, sortedA.len, sortedB.ids, sortedB.len, cutoff);
  if (differencesAreLists()) return result;
  diffIds();
  return max(result, partialRatio(diffAB.ids, diffAB.len, diffBA.ids, diffBA.len, max(cutoff, result)));
}

/**
 * A lower bound on the LCS of the two texts, usually equal to it: equal tokens matched greedily in order (a mismatch
 * looks a few tokens ahead on either side), plus the LCS of the stretches between matched tokens.
 */
function tokenMatchLowerBound(): i32 {
  const LOOKAHEAD = 8;
  const a = textA.seq;
  const b = textB.seq;
  const clsA = textA.cls;
  const clsB = textB.cls;
  const na = textA.tokens;
  const nb = textB.tokens;
  let i = 0;
  let j = 0;
  let total = 0;
  let gapA = 0;
  let gapB = 0;
  while (i < na && j < nb) {
    if (at32(clsA, i) === at32(clsB, j)) {
      const startA = at32(textA.starts, i);
      const startB = at32(textB.starts, j);
      total += lcsOf(a, gapA, startA - gapA, b, gapB, startB - gapB, 0) + at32(textA.ends, i) - startA;
      gapA = at32(textA.ends, i);
      gapB = at32(textB.ends, j);
      i++;
      j++;
      continue;
    }
    let skipA = -1;
    let skipB = -1;
    for (let d = 1; d <= LOOKAHEAD && skipA < 0 && skipB < 0; d++) {
      if (i + d < na && at32(clsA, i + d) === at32(clsB, j)) skipA = d;
      else if (j + d < nb && at32(clsA, i) === at32(clsB, j + d)) skipB = d;
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

function sameText(): bool {
  return textA.len === textB.len && same32(textA.seq, textB.seq, textA.len);
}

/** rapidfuzz.fuzz.WRatio(A, B, processor=default_process) of the UTF-16 texts written where `input` said, 0..100. */
export function wratio(unitsA: i32, unitsBLen: i32): f64 {
  releaseTo(arena);
  // Everything a grading allocates but the LCS masks is linear in its length: about 52 bytes per code point.
  ensure(arena + usize(unitsA + unitsBLen) * 64 + 4096);
  startIds(unitsA + unitsBLen);
  const lenA = decode(unitsAt, unitsA, textAt);
  const lenB = decode(unitsB(), unitsBLen, textAt + (usize(lenA) << 2));
  setIdCount(idCount());
  trim(textA, textAt, lenA);
  trim(textB, textAt + (usize(lenA) << 2), lenB);
  let score: f64 = 0;
  if (textA.len && textB.len) score = sameText() ? 100 : scores();
  clearPattern();
  return score;
}

/** Texts up to this many code points together get `ratio` before any token work (see `scores`). */
const EXACT_FIRST = 400;

/**
 * Whether the LCS band that a cut-off leaves is wide enough (over 768 code points, 12 words a column) for the
 * token-match lower bound, linear in the texts, to pay for itself by narrowing it. Narrower, the LCS's own early stop
 * (fuzzy-wasm-lcs.as.ts) is cheaper: 10% on the corpus's long texts, whose token_set ratio is above their ratio.
 */
function wideBand(lensum: i32, cutoff: f64): bool {
  return lensum - 2 * minLcsFor((cutoff * f64(lensum)) / 200) > 768;
}

function scores(): f64 {
  const a = textA.seq;
  const b = textB.seq;
  const len1 = textA.len;
  const len2 = textB.len;
  const UNBASE_SCALE = 0.95;
  const lenRatio = len1 > len2 ? f64(len1) / f64(len2) : f64(len2) / f64(len1);
  // Otherwise the token decomposition first: the scores it gives without any LCS are cut-offs that narrow every LCS
  // after.
  if (lenRatio < 1.5) {
    // rapidfuzz's own order on short texts, whose exact LCS is cheap: `ratio` first; at 95 or more, token_ratio's
    // cut-off (ratio / 0.95) is at least 100 and WRatio is `ratio` alone. (Long texts: tokens first, their set
    // score is the cut-off of the texts' banded LCS.)
    let end: f64 = -1;
    if (len1 + len2 <= EXACT_FIRST && 200 * min(len1, len2) >= 95 * (len1 + len2)) {
      end = ratio(a, len1, b, len2, 0, 0);
      if (end >= 95) return end;
    }
    tokenize();
    const setScore = tokenSetRatioWithoutLcs();
    let best = setScore * UNBASE_SCALE;
    if (end < 0) end = ratio(a, len1, b, len2, best, wideBand(len1 + len2, best) ? tokenMatchLowerBound() : 0);
    // At 95 token_ratio (at most 100, scaled by 0.95) cannot raise the maximum.
    if (end >= 95 || setScore === 100) return max(best, end);
    best = max(best, end);
    return max(best, tokenRatioWithLcs(best / UNBASE_SCALE) * UNBASE_SCALE);
  }
  tokenize();
  const PARTIAL_SCALE = lenRatio <= 8.0 ? 0.9 : 0.6;
  // partial_token_ratio is 100 as soon as one token is shared.
  let best = sectCount > 0 ? 100 * UNBASE_SCALE * PARTIAL_SCALE : 0;
  const end = ratio(a, len1, b, len2, best, 0);
  if (end === 100) return 100;
  best = max(best, end);
  best = max(best, partialRatio(a, len1, b, len2, best / PARTIAL_SCALE) * PARTIAL_SCALE);
  if (sectCount > 0) return best;
  return max(best, partialTokenRatio(best / UNBASE_SCALE / PARTIAL_SCALE) * UNBASE_SCALE * PARTIAL_SCALE);
}
