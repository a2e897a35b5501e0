// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * The processed texts of the WebAssembly WRatio pipeline (fuzzy-wratio.as.ts): trimming, LCS ids, `str.split()`,
 * and the sorted token lists and set decomposition the token ratios need; the same results as fuzzy-process.ts and
 * fuzzy.ts's `decompose` in JS, reached differently: the tokens of both texts are grouped by hash into classes of
 * equal tokens, only the distinct classes are sorted (by code point, as Python sorts strings), and the sorted lists,
 * the intersection and the differences are then one walk over the sorted classes with each class's count per text.
 * Token equality anywhere after that is one integer comparison.
 */
import { alloc, at32, same32, set32 } from "./fuzzy-wasm-lcs.as.ts";
import { cpOf } from "./fuzzy-wasm-process.as.ts";

/** A processed text: its LCS ids (i32, fuzzy-wasm-process.as.ts) and its tokens, all in the per-grading arena. */
@unmanaged
export class Text {
  seq: usize;
  len: i32;
  tokens: i32;
  starts: usize;
  ends: usize;
  /** The class (equal tokens of either text share one) of each token. */
  cls: usize;
}

/** A space-joined sequence of tokens (ids). */
@unmanaged
export class Joined {
  ids: usize;
  len: i32;
  words: i32;
}

export const textA = changetype<Text>(memory.data(64));
export const textB = changetype<Text>(memory.data(64));
export const sortedA = changetype<Joined>(memory.data(16));
export const sortedB = changetype<Joined>(memory.data(16));
export const diffAB = changetype<Joined>(memory.data(16));
export const diffBA = changetype<Joined>(memory.data(16));
export let sectCount = 0;
export let sectLen = 0;
/** The code points of the tokens both texts hold (as many copies as the fewer has), and the fewer excess ones. */
let commonChars = 0;
let excessChars = 0;
/** The excess matches (`excessMatches`) of this grading; -1 until asked. */
let excessMatched = -1;

/** The processed text `seq[0, n)` (ids), trimmed of spaces, as `t`. */
export function trim(t: Text, seq: usize, n: i32): void {
  let start = 0;
  while (start < n && at32(seq, start) === 0x20) start++;
  while (n > start && at32(seq, n - 1) === 0x20) n--;
  t.seq = seq + (usize(start) << 2);
  t.len = n - start;
}

// Token classes, i32 per class unless said: where its ids start (a byte address) and how many, its hash, its sort key (u64: its first three code points plus one each, 0 past its end, so most
// comparisons stop there), its count in A and in B; then the classes in code-point order.
let classCount = 0;
let classLen: usize = 0;
let classSeq: usize = 0;
let classHash: usize = 0;
let classKey: usize = 0;
let countA: usize = 0;
let countB: usize = 0;
let classOrder: usize = 0;

// The hash table of classes: i32 pairs (stamp, class) per slot, a slot in use this grading when its stamp is the
// grading's, so the table is never cleared (but when the stamp wraps). Placed and sized by `placeSlots`.
let slots: usize = 0;
let slotCap = 0;
let slotMask = 0;
let stamp = 0;

/** Places the class hash table: `cap` slots (a power of two, at least twice the tokens a grading can hold), zeroed. */
export function placeSlots(at: usize, cap: i32): void {
  slots = at;
  slotCap = cap;
  stamp = 0;
}

/** Splits both texts into tokens, groups the tokens into classes, and builds the sorted lists and the set decomposition. */
export function tokenize(): void {
  const cap = ((textA.len + 1) >> 1) + ((textB.len + 1) >> 1);
  classCount = 0;
  classLen = alloc(usize(cap) << 2);
  classSeq = alloc(usize(cap) << 2);
  classHash = alloc(usize(cap) << 2);
  classKey = alloc(usize(cap + 1) << 3); // and a sentinel past the last class (`rankClasses`)
  countA = alloc(usize(cap) << 2);
  countB = alloc(usize(cap) << 2);
  let size = 64;
  while (size < 2 * cap) size <<= 1;
  slotMask = size - 1;
  if (++stamp === 0x7fffffff) {
    memory.fill(slots, 0, usize(slotCap) << 3);
    stamp = 1;
  }
  // Short pairs go one id at a time: on a few tokens the bitmap costs more than it saves (A/B on the corpus,
  // 2026-11-26: under 50 characters 0.94-0.97x with the bitmap for every pair, 1.00-1.02x so; 50-199 1.05x). The two
  // texts of a pair are split alike: the two splits hash differently.
  if (textA.len + textB.len < 96) {
    splitNarrow(textA, countA);
    splitNarrow(textB, countB);
  } else {
    split(textA, countA);
    split(textB, countB);
  }
  classOrder = 0;
  excessMatched = -1;
  decompose();
}

/** Room for the tokens of `t` (at most one per two code points, its text trimmed). */
function placeTokens(t: Text): void {
  const cap = (t.len + 1) >> 1;
  t.starts = alloc(usize(cap) << 2);
  t.ends = alloc(usize(cap) << 2);
  t.cls = alloc(usize(cap) << 2);
}

/** Token k of `t`, seq[start, start+n) with hash h: its place, its class, counted in `counts`. */
function addToken(t: Text, counts: usize, k: i32, start: i32, n: i32, h: u32): void {
  set32(t.starts, k, start);
  set32(t.ends, k, start + n);
  const cls = classOf(t, start, n, i32(h));
  set32(t.cls, k, cls);
  set32(counts, cls, at32(counts, cls) + 1);
}

/** Lane k is k: a token's lanes below its length are kept (`split`). */
const LANES = i32x4(0, 1, 2, 3);
/** Odd multipliers per place of a token's first four ids (`split`'s hash). */
const MUL = i32x4(0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f);

/** 64 bits of the space bitmap from position i (bit 0): at least 57 of them are the text's. */
function window(bitmap: usize, i: i32): u64 {
  return load<u64>(bitmap + (usize(i) >> 3)) >> u64(i & 7);
}

/**
 * The tokens of `t`, each counted in `counts` under its class. A bitmap of the spaces first (sixteen ids a step),
 * then each token's length and the spaces after it are counted by `ctz` on it, and its hash is its first four ids
 * times a multiplier per place, its last id and its length: no branch per id (a loop to the next space mispredicts
 * its exit about once a token on text the predictor has not seen). Reads up to 60 bytes past the text's ids and 64
 * past a token's start (`sameToken`): memory the module owns (`layout`), masked or compared only up to the end.
 */
function split(t: Text, counts: usize): void {
  const seq = t.seq;
  const len = t.len;
  placeTokens(t);
  // Bit k of the bitmap: whether id k is a space; every bit from len on is set (the text ends in a space), and 8 bytes
  // past the last word are all set too, for `window`'s reads.
  const words = (len + 63) >> 6;
  const bitmap = alloc((usize(words) + 3) << 3);
  const space = i32x4.splat(0x20);
  for (let k = 0; k < len; k += 16) {
    const p = seq + (usize(k) << 2);
    const m =
      i32x4.bitmask(i32x4.eq(v128.load(p), space)) |
      (i32x4.bitmask(i32x4.eq(v128.load(p, 16), space)) << 4) |
      (i32x4.bitmask(i32x4.eq(v128.load(p, 32), space)) << 8) |
      (i32x4.bitmask(i32x4.eq(v128.load(p, 48), space)) << 12);
    store<u16>(bitmap + (usize(k) >> 3), u16(m));
  }
  const lastWord = bitmap + (usize(len >> 6) << 3);
  store<u64>(lastWord, load<u64>(lastWord) | (u64(-1) << u64(len & 63)));
  store<u64>(lastWord, u64(-1), 8);
  store<u64>(lastWord, u64(-1), 16);
  let count = 0;
  let i = 0;
  for (;;) {
    let skip = i32(ctz<u64>(~window(bitmap, i)));
    while (skip >= 57) {
      i += 56;
      skip = i32(ctz<u64>(~window(bitmap, i)));
    }
    i += skip;
    if (i >= len) break;
    let n = i32(ctz<u64>(window(bitmap, i)));
    if (n >= 57) {
      n = 56;
      while (at32(seq, i + n) !== 0x20 && i + n < len) n++;
    }
    const p = seq + (usize(i) << 2);
    const sum = i32x4.mul(v128.and(v128.load(p), i32x4.lt_s(LANES, i32x4.splat(n))), MUL);
    let h: u32 = u32(
      i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3),
    );
    h ^= u32(at32(seq, i + n - 1)) * 0x68e31da5;
    h = (h ^ u32(n)) * 0x9e3779b1;
    h ^= h >> 15;
    addToken(t, counts, count++, i, n, h);
    i += n;
  }
  t.tokens = count;
}

/** `split` for short texts, one id at a time, with its own hash. */
function splitNarrow(t: Text, counts: usize): void {
  const seq = t.seq;
  const len = t.len;
  placeTokens(t);
  let count = 0;
  let i = 0;
  while (i < len) {
    while (at32(seq, i) === 0x20) i++; // the text is trimmed: a token follows
    const start = i;
    // Rotate-and-xor per id (a one-cycle chain, where FNV's multiply per id was a fifth of the splitting), mixed
    // once per token.
    let h: u32 = 0;
    let c = at32(seq, i);
    do {
      h = rotl<u32>(h, 7) ^ u32(c);
      if (++i >= len) break;
      c = at32(seq, i);
    } while (c !== 0x20);
    h = (h ^ u32(i - start)) * 0x9e3779b1;
    h ^= h >> 15;
    addToken(t, counts, count++, start, i - start, h);
  }
  t.tokens = count;
}

/** Whether the n ids at p and q are equal: up to 16 as four vectors, with no branch per id. */
function sameToken(p: usize, q: usize, n: i32): bool {
  if (n > 16) return same32(p, q, n);
  const differ =
    i32x4.bitmask(v128.not(i32x4.eq(v128.load(p), v128.load(q)))) |
    (i32x4.bitmask(v128.not(i32x4.eq(v128.load(p, 16), v128.load(q, 16)))) << 4) |
    (i32x4.bitmask(v128.not(i32x4.eq(v128.load(p, 32), v128.load(q, 32)))) << 8) |
    (i32x4.bitmask(v128.not(i32x4.eq(v128.load(p, 48), v128.load(q, 48)))) << 12);
  return (differ & ((1 << n) - 1)) === 0;
}

/** The class of the token seq[start, start+n) of `t` with hash h, made on first sight. */
function classOf(t: Text, start: i32, n: i32, h: i32): i32 {
  const at = t.seq + (usize(start) << 2);
  let slot = h & slotMask;
  for (;;) {
    const p = slots + (usize(slot) << 3);
    if (load<i32>(p) !== stamp) break;
    const c = load<i32>(p, 4);
    if (at32(classHash, c) === h && at32(classLen, c) === n && sameToken(usize(at32(classSeq, c)), at, n)) {
      return c;
    }
    slot = (slot + 1) & slotMask;
  }
  const c = classCount++;
  const p = slots + (usize(slot) << 3);
  store<i32>(p, stamp);
  store<i32>(p, c, 4);
  set32(classSeq, c, i32(at));
  set32(classLen, c, n);
  set32(classHash, c, h);
  set32(countA, c, 0);
  set32(countB, c, 0);
  return c;
}

/** Whether class x sorts after class y (keys first, the code points on a tie; distinct classes never tie). */
function after(x: i32, y: i32): bool {
  const kx = load<u64>(classKey + (usize(x) << 3));
  const ky = load<u64>(classKey + (usize(y) << 3));
  if (kx !== ky) return kx > ky;
  const p = usize(at32(classSeq, x));
  const q = usize(at32(classSeq, y));
  const lx = at32(classLen, x);
  const ly = at32(classLen, y);
  const n = min(lx, ly);
  for (let k = 3; k < n; k++) {
    const d = cpOf(load<i32>(p + (usize(k) << 2))) - cpOf(load<i32>(q + (usize(k) << 2)));
    if (d !== 0) return d > 0;
  }
  return lx > ly;
}

function insertionSort(ids: usize, from: i32, to: i32): void {
  for (let i = from + 1; i < to; i++) {
    const x = at32(ids, i);
    let j = i - 1;
    while (j >= from && after(at32(ids, j), x)) {
      set32(ids, j + 1, at32(ids, j));
      j--;
    }
    set32(ids, j + 1, x);
  }
}

/** Classes up to this many are sorted by `rankClasses`. */
const RANK_MAX = 64;

/**
 * Sorts `classOrder` by counting: a class's place is how many classes' keys are less than its own. No data-dependent
 * branch: sorting by comparisons mispredicts about every other one, and the bench cycles through pairs whose token
 * order the predictor cannot have learnt. Two classes a pass over the keys, two keys a step; quadratic, so for a few
 * dozen classes only. The keys hold at most 63 bits, so a signed comparison orders them; a sentinel key (greater than
 * all, its place n) pads them to an even count. False when two keys tie: then two places are the same, and the places
 * no longer sum to 0 + 1 + ... + (n - 1).
 */
function rankClasses(): bool {
  const n = classCount;
  store<u64>(classKey + (usize(n) << 3), i64.MAX_VALUE);
  let total = 0;
  for (let i = 0; i < n; i += 2) {
    const first = i64x2.splat(load<i64>(classKey + (usize(i) << 3)));
    const second = i64x2.splat(load<i64>(classKey + (usize(i + 1) << 3)));
    let placeFirst = i64x2.splat(0);
    let placeSecond = i64x2.splat(0);
    for (let j = 0; j < n; j += 2) {
      const keys = v128.load(classKey + (usize(j) << 3));
      placeFirst = i64x2.sub(placeFirst, i64x2.lt_s(keys, first));
      placeSecond = i64x2.sub(placeSecond, i64x2.lt_s(keys, second));
    }
    const a = i32(i64x2.extract_lane(placeFirst, 0) + i64x2.extract_lane(placeFirst, 1));
    const b = i32(i64x2.extract_lane(placeSecond, 0) + i64x2.extract_lane(placeSecond, 1));
    set32(classOrder, a, i);
    set32(classOrder, b, i + 1); // the sentinel's place is n, a slot past the classes
    total += a + (i + 1 < n ? b : 0);
  }
  return total === (n * (n - 1)) >> 1;
}

/** Sorts `classOrder`: by counting for a few dozen classes with distinct keys, else insertion-sorted runs merged. */
function sortClasses(): void {
  const n = classCount;
  if (n <= RANK_MAX && rankClasses()) return;
  for (let c = 0; c < n; c++) set32(classOrder, c, c);
  const RUN = 16;
  for (let from = 0; from < n; from += RUN) insertionSort(classOrder, from, min(n, from + RUN));
  if (n <= RUN) return;
  let src = classOrder;
  let dst = alloc(usize(n) << 2);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = min(n, lo + width);
      const hi = min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) set32(dst, k++, after(at32(src, i), at32(src, j)) ? at32(src, j++) : at32(src, i++));
      while (i < mid) set32(dst, k++, at32(src, i++));
      while (j < hi) set32(dst, k++, at32(src, j++));
    }
    const swap = src;
    src = dst;
    dst = swap;
  }
  classOrder = src;
}

/**
 * Writes class c's ids `times` times at `to`, each after a space; returns where the next goes. Its first 8 ids are
 * written whatever `times` is (then left behind for the next to overwrite), in whole vectors of four ids, up to 7
 * past its end: no branch on the length of a token of up to 8 code points. Reading past a token's end stays inside
 * the texts' region (`layout`); the lists have room for 9 ids past their end (`writeIds`).
 */
function push(to: usize, c: i32, times: i32): usize {
  const from = usize(at32(classSeq, c));
  const n = at32(classLen, c);
  store<i32>(to, 0x20);
  v128.store(to, v128.load(from), 4);
  v128.store(to, v128.load(from, 16), 20);
  if (times === 0) return to;
  for (let k = 8; k < n; k += 4) v128.store(to + 4 + (usize(k) << 2), v128.load(from + (usize(k) << 2)));
  const step = usize(n + 1) << 2;
  if (times === 1) return to + step;
  for (let r = 1; r < times; r++) memory.copy(to + usize(r) * step, to, step);
  return to + usize(times) * step;
}

/**
 * The sizes of the sorted token lists (sort ratios) and the set decomposition (set ratios), which need no order: one
 * walk over the classes. Their ids (in code-point order) are written only when a scorer asks for them (`sortedIds`,
 * `diffIds`): many gradings end first.
 */
function decompose(): void {
  sortedA.ids = sortedB.ids = diffAB.ids = diffBA.ids = 0;
  // Sums without a data-dependent branch (whether a class is shared is a coin toss to the predictor); the spaces
  // between the words are added at the end.
  let sortedLenA = 0;
  let sortedLenB = 0;
  let sect = 0;
  let onlyA = 0;
  let onlyB = 0;
  let sectChars = 0;
  let onlyAChars = 0;
  let onlyBChars = 0;
  let common = 0;
  let excessA = 0;
  let excessB = 0;
  for (let c = 0; c < classCount; c++) {
    const inA = at32(countA, c);
    const inB = at32(countB, c);
    const n = at32(classLen, c);
    sortedLenA += inA * (n + 1);
    sortedLenB += inB * (n + 1);
    common += min(inA, inB) * n;
    excessA += max(inA - inB, 0) * n;
    excessB += max(inB - inA, 0) * n;
    const a = i32(inA > 0);
    const b = i32(inB > 0);
    const both = a & b;
    sect += both;
    sectChars += n & -both;
    onlyA += a ^ both;
    onlyAChars += n & -(a ^ both);
    onlyB += b ^ both;
    onlyBChars += n & -(b ^ both);
  }
  sortedA.len = textA.tokens > 0 ? sortedLenA - 1 : 0;
  sortedB.len = textB.tokens > 0 ? sortedLenB - 1 : 0;
  sectCount = sect;
  sectLen = sect > 0 ? sectChars + sect - 1 : 0;
  diffAB.words = onlyA;
  diffAB.len = onlyA > 0 ? onlyAChars + onlyA - 1 : 0;
  diffBA.words = onlyB;
  diffBA.len = onlyB > 0 ? onlyBChars + onlyB - 1 : 0;
  commonChars = common;
  excessChars = min(excessA, excessB);
}

/** Sorts the classes, once per grading, when a scorer first needs the lists' order (many gradings end before). */
function sortOnce(): void {
  if (classOrder) return;
  classOrder = alloc(usize(classCount + 1) << 2);
  for (let c = 0; c < classCount; c++) {
    const at = usize(at32(classSeq, c));
    const n = at32(classLen, c);
    let key = u64(cpOf(load<i32>(at)) + 1) << 42;
    if (n > 1) key |= u64(cpOf(load<i32>(at, 4)) + 1) << 21;
    if (n > 2) key |= u64(cpOf(load<i32>(at, 8)) + 1);
    store<u64>(classKey + (usize(c) << 3), key);
  }
  sortClasses();
}

/**
 * Writes the ids of x and y (their lengths already counted by `decompose`) from the classes in code-point order: as
 * many copies of a class as each text holds (the sorted lists) or, `setDifference`, one copy of a class only one text
 * holds (the differences).
 */
function writeIds(x: Joined, y: Joined, setDifference: bool): void {
  sortOnce();
  // Each list is written as " w1 w2 ...", its ids starting after that first space, with room for `push`'s overshoot.
  let toX = alloc(usize(x.len + 12) << 2);
  let toY = alloc(usize(y.len + 12) << 2);
  x.ids = toX + 4;
  y.ids = toY + 4;
  for (let k = 0; k < classCount; k++) {
    const c = at32(classOrder, k);
    const inA = at32(countA, c);
    const inB = at32(countB, c);
    toX = push(toX, c, setDifference ? i32(inA > 0) & i32(inB === 0) : inA);
    toY = push(toY, c, setDifference ? i32(inB > 0) & i32(inA === 0) : inB);
  }
}

/** Writes the ids of both sorted token lists (once per grading). */
export function sortedIds(): void {
  if (!sortedA.ids) writeIds(sortedA, sortedB, false);
}

/** Writes the ids of both set differences (once per grading). */
export function diffIds(): void {
  if (!diffAB.ids) writeIds(diffAB, diffBA, true);
}

/**
 * Per id, the fewer of its counts in the tokens A has more of than B and those B has more of than A (a class's excess
 * copies): computed once per grading, when a bound first asks. `counts`: an i32 per id, all zeros, left so.
 */
function excessMatches(counts: usize): i32 {
  if (excessMatched >= 0) return excessMatched;
  let matched = 0;
  for (let c = 0; c < classCount; c++) {
    const inA = at32(countA, c);
    const inB = at32(countB, c);
    if (inA > inB) countClass(counts, c, inA - inB, 1);
  }
  for (let c = 0; c < classCount; c++) {
    const inA = at32(countA, c);
    const inB = at32(countB, c);
    if (inB > inA) matched += countClass(counts, c, inB - inA, -1);
  }
  for (let c = 0; c < classCount; c++) {
    if (at32(countA, c) <= at32(countB, c)) continue;
    const seq = usize(at32(classSeq, c));
    for (let k = 0, n = at32(classLen, c); k < n; k++) set32(counts, at32(seq, k), 0);
  }
  excessMatched = matched;
  return matched;
}

/**
 * An upper bound on the LCS of the two set differences, from their classes in any order (no sort): the excess matches
 * (a superset of the differences' characters on each side: every class of one side only is all excess), plus one
 * space fewer than the smaller difference's words.
 */
export function diffLcsBound(counts: usize): i32 {
  return excessMatches(counts) + min(diffAB.words, diffBA.words) - 1;
}

/** Adds (`sign` 1) class c's ids `times` times to `counts`, or (-1) takes them off where some are left, counting those. */
function countClass(counts: usize, c: i32, times: i32, sign: i32): i32 {
  const seq = usize(at32(classSeq, c));
  const n = at32(classLen, c);
  let matched = 0;
  for (let r = 0; r < times; r++) {
    for (let k = 0; k < n; k++) {
      const at = counts + (usize(at32(seq, k)) << 2);
      const left = load<i32>(at);
      if (sign > 0) store<i32>(at, left + 1);
      else {
        // Without a branch on whether any are left: that is data the predictor cannot know.
        const some = i32(left > 0);
        matched += some;
        store<i32>(at, left - some);
      }
    }
  }
  return matched;
}

/**
 * An upper bound on the LCS of the sorted token lists: per id, the fewer of its counts in the two lists. A token in
 * both lists matches whole (min(x + y, x + z) = x + min(y, z)), so only the tokens one list has more of are counted by
 * id (the excess matches); plus one space fewer than the fewer tokens. The same value as fuzzy.ts's count over the
 * texts, or, when even that with every excess code point matched stays under `minLcs`, that larger bound.
 */
export function sortedLcsBound(counts: usize, minLcs: i32): i32 {
  const spaces = min(textA.tokens, textB.tokens) - 1;
  // The excess matches are at most the fewer excess code points: when even that cannot reach `minLcs`, the per-id
  // count (passes over the classes) is not needed.
  if (spaces + commonChars + excessChars < minLcs) return spaces + commonChars + excessChars;
  return spaces + commonChars + excessMatches(counts);
}
