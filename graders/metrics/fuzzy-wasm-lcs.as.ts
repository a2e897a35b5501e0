// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * Memory and the LCS kernel of the WebAssembly WRatio pipeline (fuzzy-wratio.as.ts): Hyyrö's bit-parallel LCS in
 * 64-bit words over one pattern at a time, with rapidfuzz's Ukkonen band when a minimum LCS is asked for, and the
 * prefix/suffix sweeps of partial_ratio. The same algorithm as fuzzy-indel.ts's `Pattern` (30-bit words in JS).
 *
 * Sequences are LCS ids (i32): a processed code point below 256 is its own id, the others are numbered from 256 per
 * grading (fuzzy-wasm-process.as.ts), so the mask tables are indexed by id and never larger than 256 + the texts' length.
 * `direct` (two u64 per id: patterns of one or two words) and `rowOf` (i32 per id: its mask row, patterns of more
 * words) stay all zeros between builds: a build sets only its own ids and the next one clears exactly those. Patterns
 * of three or four words (up to 256 ids) also run with their state in locals, over rows of four words.
 */

/** Byte address of a region; everything per grading is bump-allocated from `top` and released by resetting it. */
export let top: usize = 0;
let direct: usize = 0;
let rowOf: usize = 0;

const ALL: u64 = u64(-1);

/** How many LCS ids this grading uses (ids are below it), which bounds a pattern's mask rows. */
let idCount = 256;

export function setIdCount(n: i32): void {
  idCount = n;
}

/** Places the id-indexed mask tables (all zeros) and `rowIds` (as many i32 as ids, plus one). */
export function placeTables(directAt: usize, rowOfAt: usize, rowIdsAt: usize): void {
  direct = directAt;
  rowOf = rowOfAt;
  rowIds = rowIdsAt;
}

/** Makes sure memory reaches `end` (bytes), growing it as needed. */
export function ensure(end: usize): void {
  const have = usize(memory.size()) << 16;
  if (end > have && memory.grow(i32((end - have + 0xffff) >> 16)) < 0) unreachable();
}

/**
 * `bytes` of scratch (8-aligned) from the per-grading arena, within what the grading ensured at its start
 * (fuzzy-wratio.as.ts `wratio`: everything but the masks is linear in the texts' length).
 */
export function alloc(bytes: usize): usize {
  const at = top;
  top = (top + bytes + 7) & ~usize(7);
  return at;
}

export function releaseTo(mark: usize): void {
  top = mark;
}

export function at32(p: usize, i: i32): i32 {
  return load<i32>(p + (usize(i) << 2));
}

export function set32(p: usize, i: i32, v: i32): void {
  store<i32>(p + (usize(i) << 2), v);
}

/**
 * Whether the i32 arrays p[0, n) and q[0, n) are equal. A loop over code points: AssemblyScript's `memory.compare`
 * goes byte by byte when the two addresses differ modulo 8, as two tokens' starts often do.
 */
export function same32(p: usize, q: usize, n: i32): bool {
  for (let k = 0; k < n; k++) if (at32(p, k) !== at32(q, k)) return false;
  return true;
}

// The current pattern: ids seq[from, to). More than one word: `rows` mask rows (row 0 all zeros, for the ids it
// lacks), the id of each row in `rowIds` (outside the arena: the pattern is cleared after its scratch is released).
let patSeq: usize = 0;
let patFrom: i32 = 0;
let patTo: i32 = 0;
let patLen: i32 = 0;
let words: i32 = 1;
let masks: usize = 0;
let state: usize = 0;
let rowIds: usize = 0;
let rows = 0;
/** Bytes of a mask row (patterns of more than two words). */
let rowBytes: usize = 0;

/**
 * Fills n u64 from `at` with v: a loop, since V8 runs `memory.fill` as a call out of WebAssembly that costs more than
 * the few words a grading fills.
 */
function fill64(at: usize, v: u64, n: i32): void {
  for (let i = 0; i < n; i++) store<u64>(at + (usize(i) << 3), v);
}

/** Forgets the current pattern: zeroes the table entries its ids set. */
export function clearPattern(): void {
  if (patLen === 0) return;
  if (words <= 2) {
    for (let i = patFrom; i < patTo; i++) v128.store(direct + (usize(at32(patSeq, i)) << 4), v128.splat<i64>(0));
  } else {
    for (let r = 1; r < rows; r++) set32(rowOf, at32(rowIds, r), 0);
  }
  patLen = 0;
}

/**
 * Builds the masks of `seq[from, to)` (read backwards when `reverse`). More than one word: the masks and state come
 * from the arena, so release it only after the pattern's last use.
 */
export function buildPattern(seq: usize, from: i32, to: i32, reverse: bool): void {
  clearPattern();
  const len = to - from;
  patSeq = seq;
  patFrom = from;
  patTo = to;
  patLen = len;
  if (len <= 128) {
    // One or two words: the masks straight in the id-indexed table, word k of id at direct + id * 16 + k * 8.
    words = len <= 64 ? 1 : 2;
    // Read forwards (step 1) or backwards (-1): no select per id.
    const step = reverse ? -1 : 1;
    const first = reverse ? to - 1 : from;
    const low = min(len, 64);
    for (let i = 0; i < low; i++) {
      const p = direct + (usize(at32(seq, first + i * step)) << 4);
      store<u64>(p, load<u64>(p) | (u64(1) << u64(i)));
    }
    for (let i = 64; i < len; i++) {
      const p = direct + (usize(at32(seq, first + i * step)) << 4);
      store<u64>(p, load<u64>(p, 8) | (u64(1) << u64(i - 64)), 8);
    }
    return;
  }
  // One pass: an id gets the next row, zeroed, on first sight; the masks grow row by row at the arena's end. Rows of
  // patterns up to 256 ids hold four words (the fourth zero past the pattern) for `lcs`'s four-word loop.
  words = (len + 63) >> 6;
  const rowWords = max(words, 4);
  rowBytes = usize(rowWords) << 3;
  state = alloc(usize(words) << 3);
  masks = top;
  // Row 0 and a row per distinct id: memory checked once (a check per row cost a tenth of a short grading's LCS).
  ensure(masks + usize(min(len, idCount) + 1) * rowBytes);
  fill64(masks, 0, rowWords);
  rows = 1;
  for (let i = 0; i < len; i++) {
    const id = at32(seq, reverse ? to - 1 - i : from + i);
    let row = at32(rowOf, id);
    if (row === 0) {
      row = rows++;
      set32(rowOf, id, row);
      set32(rowIds, row, id);
      fill64(masks + usize(row) * rowBytes, 0, rowWords);
    }
    const p = masks + usize(row) * rowBytes + (usize(i >> 6) << 3);
    store<u64>(p, load<u64>(p) | (u64(1) << u64(i & 63)));
  }
  top = masks + usize(rows) * rowBytes;
}

/** Whether the pattern contains `id`. */
export function has(id: i32): bool {
  if (words > 2) return at32(rowOf, id) !== 0;
  const p = direct + (usize(id) << 4);
  return (load<u64>(p) | load<u64>(p, 8)) !== 0;
}

function lowBits(bits: i32): u64 {
  return bits >= 64 ? ALL : (u64(1) << u64(bits)) - 1;
}

function rowAt(id: i32): usize {
  return masks + usize(at32(rowOf, id)) * rowBytes;
}

/** The zeros (matches) of word w of the state. */
function zerosOf(w: i32): i32 {
  return i32(popcnt<u64>(~load<u64>(state + (usize(w) << 3)) & lowBits(patLen - w * 64)));
}

function zeros(): i32 {
  let total = 0;
  for (let w = 0; w < words; w++) total += zerosOf(w);
  return total;
}

/** One column of the multi-word LCS over words [first, last) of the state, with the mask row at `row`. */
function advance(row: usize, first: i32, last: i32): void {
  let carry: u64 = 0;
  for (let k = first; k < last; k++) {
    const sp = state + (usize(k) << 3);
    const x = load<u64>(sp);
    const u = x & load<u64>(row + (usize(k) << 3));
    const s = x + u;
    const sum = s + carry;
    carry = u64(s < x) | u64(sum < s);
    store<u64>(sp, sum | (x - u));
  }
}

/** One column of Hyyrö's bit-parallel LCS on one word: the new state from state v and u = v & the id's mask. */
function lowWord(v: u64, u: u64): u64 {
  return (v + u) | (v - u);
}

/** The same on the word above, with the carry out of the word below (its state v0 and u0). */
function highWord(v1: u64, u1: u64, v0: u64, u0: u64): u64 {
  return (v1 + u1 + u64(v0 + u0 < v0)) | (v1 - u1);
}

/** LCS of the pattern and text[from, to); exact when at least `minLcs`, otherwise some smaller value. */
export function lcs(text: usize, from: i32, to: i32, minLcs: i32): i32 {
  if (patLen === 0 || to <= from) return 0;
  if (words === 1) {
    let v = ALL;
    for (let j = from; j < to; j++) {
      v = lowWord(v, v & load<u64>(direct + (usize(at32(text, j)) << 4)));
    }
    return i32(popcnt<u64>(~v & lowBits(patLen)));
  }
  if (words === 2) {
    // Two words in locals (no band: it would skip little of two words).
    let v0 = ALL;
    let v1 = ALL;
    for (let j = from; j < to; j++) {
      const p = direct + (usize(at32(text, j)) << 4);
      const u0 = v0 & load<u64>(p);
      v1 = highWord(v1, v1 & load<u64>(p, 8), v0, u0);
      v0 = lowWord(v0, u0);
    }
    return i32(popcnt<u64>(~v0) + popcnt<u64>(~v1 & lowBits(patLen - 64)));
  }
  const len2 = to - from;
  if (words <= 4) {
    // Three or four words in locals (rows of four words; a fourth word with no bits stays all ones), and the early
    // stop below without the band.
    let v0 = ALL;
    let v1 = ALL;
    let v2 = ALL;
    let v3 = ALL;
    // The pattern's bits of words 2 and 3 (word 3 has none in a three-word pattern).
    const top2 = lowBits(patLen - 128);
    const top3 = patLen > 192 ? lowBits(patLen - 192) : 0;
    for (let col = 0; col < len2; col++) {
      const p = masks + (usize(at32(rowOf, at32(text, from + col))) << 5);
      const u0 = v0 & load<u64>(p);
      const u1 = v1 & load<u64>(p, 8);
      const u2 = v2 & load<u64>(p, 16);
      const u3 = v3 & load<u64>(p, 24);
      const s0 = v0 + u0;
      const t1 = v1 + u1;
      const s1 = t1 + u64(s0 < v0);
      const c1 = u64(t1 < v1) | u64(s1 < t1);
      const t2 = v2 + u2;
      const s2 = t2 + c1;
      const c2 = u64(t2 < v2) | u64(s2 < t2);
      v3 = (v3 + u3 + c2) | (v3 - u3);
      v2 = s2 | (v2 - u2);
      v1 = s1 | (v1 - u1);
      v0 = s0 | (v0 - u0);
      if ((col & 63) === 63 && minLcs > 0) {
        const matches = popcnt<u64>(~v0) + popcnt<u64>(~v1) + popcnt<u64>(~v2 & top2) + popcnt<u64>(~v3 & top3);
        if (i32(matches) + (len2 - 1 - col) < minLcs) return 0;
      }
    }
    return i32(popcnt<u64>(~v0) + popcnt<u64>(~v1) + popcnt<u64>(~v2 & top2) + popcnt<u64>(~v3 & top3));
  }
  fill64(state, ALL, words);
  const bandLeft = patLen - minLcs;
  const bandRight = len2 - minLcs;
  let frozen = 0;
  let frozenTo = 0;
  for (let col = 0; col < len2; col++) {
    // Column `col` can only hold a match of a subsequence of length minLcs in pattern positions
    // [col - bandRight, col + bandLeft]: only the words holding those are computed.
    const first = col > bandRight ? (col - bandRight) >> 6 : 0;
    const last = min(words, (col + bandLeft + 64) >> 6);
    advance(rowAt(at32(text, from + col)), first, last);
    // Every 64 columns: a path within the band has at most as many matches so far as the state's zeros, and one per
    // column left; when those cannot reach minLcs, neither can the LCS (long texts whose cut-off is above their ratio
    // stop about halfway). Words below the band never change again and are counted once; words above it are all ones.
    if ((col & 63) === 63 && minLcs > 0) {
      for (; frozenTo < first; frozenTo++) frozen += zerosOf(frozenTo);
      let matches = frozen;
      for (let w = frozenTo; w < last; w++) matches += zerosOf(w);
      if (matches + (len2 - 1 - col) < minLcs) return 0;
    }
  }
  return zeros();
}

/**
 * The largest LCS of a one-word pattern and any window text[i, i + patLen), i in [from, to]: every window, four at a
 * time in four independent dependency chains (one window's LCS is a chain of dependent steps that leaves most of the
 * core idle; four run side by side), with no data-dependent branch.
 */
export function bestWindow(text: usize, from: i32, to: i32): i32 {
  const len = patLen;
  const live = lowBits(len);
  let best = 0;
  let i = from;
  for (; i + 3 <= to; i += 4) {
    let v0 = ALL;
    let v1 = ALL;
    let v2 = ALL;
    let v3 = ALL;
    for (let j = 0; j < len; j++) {
      const p = text + (usize(i + j) << 2);
      v0 = lowWord(v0, v0 & load<u64>(direct + (usize(load<i32>(p)) << 4)));
      v1 = lowWord(v1, v1 & load<u64>(direct + (usize(load<i32>(p, 4)) << 4)));
      v2 = lowWord(v2, v2 & load<u64>(direct + (usize(load<i32>(p, 8)) << 4)));
      v3 = lowWord(v3, v3 & load<u64>(direct + (usize(load<i32>(p, 12)) << 4)));
    }
    best = max(
      best,
      max(
        max(i32(popcnt<u64>(~v0 & live)), i32(popcnt<u64>(~v1 & live))),
        max(i32(popcnt<u64>(~v2 & live)), i32(popcnt<u64>(~v3 & live))),
      ),
    );
  }
  for (; i <= to; i++) best = max(best, lcs(text, i, i + len, 0));
  return best;
}

/**
 * out[k] = LCS of the pattern and the first k ids of the text read from `start` by `dir` (+1/-1), k = 1..count, into
 * the i32 array `out` (out[0] is left alone).
 */
export function sweep(text: usize, start: i32, dir: i32, count: i32, out: usize): void {
  let j = start;
  if (words === 1) {
    const keep = lowBits(patLen);
    let v = ALL;
    for (let k = 1; k <= count; k++) {
      v = lowWord(v, v & load<u64>(direct + (usize(at32(text, j)) << 4)));
      set32(out, k, i32(popcnt<u64>(~v & keep)));
      j += dir;
    }
    return;
  }
  if (words === 2) {
    const keep = lowBits(patLen - 64);
    let v0 = ALL;
    let v1 = ALL;
    for (let k = 1; k <= count; k++) {
      const p = direct + (usize(at32(text, j)) << 4);
      const u0 = v0 & load<u64>(p);
      v1 = highWord(v1, v1 & load<u64>(p, 8), v0, u0);
      v0 = lowWord(v0, u0);
      set32(out, k, i32(popcnt<u64>(~v0) + popcnt<u64>(~v1 & keep)));
      j += dir;
    }
    return;
  }
  fill64(state, ALL, words);
  for (let k = 1; k <= count; k++) {
    advance(rowAt(at32(text, j)), 0, words);
    set32(out, k, zeros());
    j += dir;
  }
}
