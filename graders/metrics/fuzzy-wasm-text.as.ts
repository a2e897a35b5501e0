// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * The processed texts of the WebAssembly WRatio pipeline (fuzzy-wratio.as.ts): trimming, LCS ids, `str.split()`
 * with a hash per token, tokens sorted by code point as Python sorts strings, and the sorted lists and set
 * decomposition the token ratios need. The same steps as fuzzy-process.ts and fuzzy.ts's `decompose` in JS.
 */
import { alloc, at32, set32 } from "./fuzzy-wasm-lcs.as.ts";

/** A processed text: code points (i32), its LCS ids and its tokens, all in the per-grading arena. */
@unmanaged
export class Text {
  cps: usize;
  len: i32;
  /** LCS ids: `cps` itself when every code point is below 256. */
  seq: usize;
  wide: bool;
  tokens: i32;
  starts: usize;
  ends: usize;
  hashes: usize;
  /** u64 per token: its first three code points (plus one each, 0 past its end), so most comparisons stop there. */
  keys: usize;
  /** Token indices in code-point order. */
  order: usize;
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

/** Code point -> its LCS id this grading (0: none yet), for code points from 256 on; all zeros between gradings. */
let wideIdOf: usize = 0;
let wideCps: usize = 0;
let nextWideId = 256;

/** Places the code point -> id table (all zeros). */
export function placeWideIds(at: usize): void {
  wideIdOf = at;
}

/** Starts a grading: `wideCps` gets room for every distinct wide code point the texts can hold. */
export function startIds(maxWide: i32): void {
  wideCps = alloc(usize(maxWide) << 2);
  nextWideId = 256;
}

/** Forgets this grading's wide ids. */
export function endIds(): void {
  for (let i = 256; i < nextWideId; i++) set32(wideIdOf, at32(wideCps, i - 256), 0);
  nextWideId = 256;
}

/** The processed code points `cps[0, n)`, trimmed of spaces, as `t`. */
export function trim(t: Text, cps: usize, n: i32): void {
  let start = 0;
  while (start < n && at32(cps, start) === 0x20) start++;
  while (n > start && at32(cps, n - 1) === 0x20) n--;
  t.cps = cps + (usize(start) << 2);
  t.len = n - start;
}

/** Splits `t` into tokens (hash and key each), gives its wide code points ids, and sorts the tokens. */
export function tokenize(t: Text): void {
  const cps = t.cps;
  const len = t.len;
  const cap = (len + 1) >> 1;
  t.starts = alloc(usize(cap) << 2);
  t.ends = alloc(usize(cap) << 2);
  t.hashes = alloc(usize(cap) << 2);
  t.keys = alloc(usize(cap) << 3);
  t.order = alloc(usize(cap) << 2);
  let count = 0;
  let wide = false;
  let i = 0;
  while (i < len) {
    while (i < len && at32(cps, i) === 0x20) i++;
    if (i >= len) break;
    const start = i;
    let h: u32 = 0x811c9dc5;
    let c = at32(cps, i);
    let key: u64 = u64(c + 1) << 42;
    while (c !== 0x20) {
      h = (h ^ u32(c)) * 0x01000193;
      if (c >= 256) wide = true;
      const k = i - start;
      if (k === 1) key |= u64(c + 1) << 21;
      else if (k === 2) key |= u64(c + 1);
      if (++i >= len) break;
      c = at32(cps, i);
    }
    set32(t.starts, count, start);
    set32(t.ends, count, i);
    set32(t.hashes, count, i32(h));
    store<u64>(t.keys + (usize(count) << 3), key);
    count++;
  }
  t.tokens = count;
  t.wide = wide;
  t.seq = wide ? wideIds(t) : cps;
  sortTokens(t);
}

function wideIds(t: Text): usize {
  const seq = alloc(usize(t.len) << 2);
  for (let i = 0; i < t.len; i++) {
    const c = at32(t.cps, i);
    if (c < 256) {
      set32(seq, i, c);
      continue;
    }
    let id = at32(wideIdOf, c);
    if (id === 0) {
      id = nextWideId++;
      set32(wideIdOf, c, id);
      set32(wideCps, id - 256, c);
    }
    set32(seq, i, id);
  }
  return seq;
}

/** Compares token i of `a` with token j of `b` by code point. */
export function compareTokens(a: Text, i: i32, b: Text, j: i32): i32 {
  let x = at32(a.starts, i);
  let y = at32(b.starts, j);
  const endX = at32(a.ends, i);
  const endY = at32(b.ends, j);
  while (x < endX && y < endY) {
    const d = at32(a.cps, x) - at32(b.cps, y);
    if (d !== 0) return d;
    x++;
    y++;
  }
  return endX - x - (endY - y);
}

/** Whether token i of `a` equals token j of `b`. */
export function sameToken(a: Text, i: i32, b: Text, j: i32): bool {
  if (at32(a.hashes, i) !== at32(b.hashes, j)) return false;
  const start = at32(a.starts, i);
  const len = at32(a.ends, i) - start;
  const otherStart = at32(b.starts, j);
  if (at32(b.ends, j) - otherStart !== len) return false;
  return memory.compare(a.cps + (usize(start) << 2), b.cps + (usize(otherStart) << 2), usize(len) << 2) === 0;
}

/** Whether token x of `t` sorts after token y (keys first, the code points on a tie). */
function after(t: Text, x: i32, y: i32): bool {
  const kx = load<u64>(t.keys + (usize(x) << 3));
  const ky = load<u64>(t.keys + (usize(y) << 3));
  return kx > ky || (kx === ky && compareTokens(t, x, t, y) > 0);
}

function insertionSort(t: Text, ids: usize, from: i32, to: i32): void {
  for (let i = from + 1; i < to; i++) {
    const x = at32(ids, i);
    let j = i - 1;
    while (j >= from && after(t, at32(ids, j), x)) {
      set32(ids, j + 1, at32(ids, j));
      j--;
    }
    set32(ids, j + 1, x);
  }
}

function sortTokens(t: Text): void {
  const n = t.tokens;
  if (n <= 40) {
    for (let i = 0; i < n; i++) set32(t.order, i, i);
    insertionSort(t, t.order, 0, n);
    return;
  }
  sortDistinct(t);
}

/** Sorts `ids[0, n)`: insertion-sorted runs of 16, merged bottom-up through a scratch array. */
function mergeSort(t: Text, ids: usize, n: i32): void {
  const RUN = 16;
  for (let from = 0; from < n; from += RUN) insertionSort(t, ids, from, min(n, from + RUN));
  let src = ids;
  let dst = alloc(usize(n) << 2);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = min(n, lo + width);
      const hi = min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) set32(dst, k++, after(t, at32(src, i), at32(src, j)) ? at32(src, j++) : at32(src, i++));
      while (i < mid) set32(dst, k++, at32(src, i++));
      while (j < hi) set32(dst, k++, at32(src, j++));
    }
    const swap = src;
    src = dst;
    dst = swap;
  }
  if (src !== ids) memory.copy(ids, src, usize(n) << 2);
}

/**
 * Long texts repeat their words: group equal tokens by hash, sort only the distinct ones, then lay each one's copies
 * out together (any copy serves, they are equal).
 */
function sortDistinct(t: Text): void {
  const n = t.tokens;
  let size = 64;
  while (size < 2 * n) size *= 2;
  const slots = alloc(usize(size) << 2);
  memory.fill(slots, 0xff, usize(size) << 2);
  const counts = alloc(usize(n) << 2);
  const distinct = alloc(usize(n) << 2);
  let count = 0;
  for (let x = 0; x < n; x++) {
    let slot = at32(t.hashes, x) & (size - 1);
    for (;;) {
      const rep = at32(slots, slot);
      if (rep < 0) {
        set32(slots, slot, x);
        set32(counts, x, 1);
        set32(distinct, count++, x);
        break;
      }
      if (sameToken(t, rep, t, x)) {
        set32(counts, rep, at32(counts, rep) + 1);
        break;
      }
      slot = (slot + 1) & (size - 1);
    }
  }
  mergeSort(t, distinct, count);
  let k = 0;
  for (let d = 0; d < count; d++) {
    const x = at32(distinct, d);
    for (let c = at32(counts, x); c > 0; c--) set32(t.order, k++, x);
  }
}

function resetJoined(j: Joined, cap: i32): void {
  j.ids = alloc(usize(cap) << 2);
  j.len = 0;
  j.words = 0;
}

function push(j: Joined, t: Text, token: i32): void {
  const start = at32(t.starts, token);
  const n = at32(t.ends, token) - start;
  if (j.words > 0) set32(j.ids, j.len++, 0x20);
  memory.copy(j.ids + (usize(j.len) << 2), t.seq + (usize(start) << 2), usize(n) << 2);
  j.len += n;
  j.words++;
}

/** Sorted position after p and the copies of its token. */
function nextDistinct(t: Text, p: i32): i32 {
  let q = p + 1;
  while (q < t.tokens && sameToken(t, at32(t.order, p), t, at32(t.order, q))) q++;
  return q;
}

/** Sorted token lists (sort ratios) and the set decomposition (set ratios) of both texts, by one merge. */
export function decompose(): void {
  resetJoined(sortedA, textA.len + 1);
  resetJoined(sortedB, textB.len + 1);
  resetJoined(diffAB, textA.len + 1);
  resetJoined(diffBA, textB.len + 1);
  for (let k = 0; k < textA.tokens; k++) push(sortedA, textA, at32(textA.order, k));
  for (let k = 0; k < textB.tokens; k++) push(sortedB, textB, at32(textB.order, k));
  sectCount = 0;
  sectLen = 0;
  let p = 0;
  let q = 0;
  while (p < textA.tokens || q < textB.tokens) {
    const ta = p < textA.tokens ? at32(textA.order, p) : 0;
    const tb = q < textB.tokens ? at32(textB.order, q) : 0;
    const cmp = p >= textA.tokens ? 1 : q >= textB.tokens ? -1 : compareTokens(textA, ta, textB, tb);
    if (cmp === 0) {
      sectLen += at32(textA.ends, ta) - at32(textA.starts, ta) + (sectCount > 0 ? 1 : 0);
      sectCount++;
      p = nextDistinct(textA, p);
      q = nextDistinct(textB, q);
    } else if (cmp < 0) {
      push(diffAB, textA, ta);
      p = nextDistinct(textA, p);
    } else {
      push(diffBA, textB, tb);
      q = nextDistinct(textB, q);
    }
  }
}
