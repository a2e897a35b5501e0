// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * The WebAssembly twin of fuzzy-indel.ts's `Pattern` (same results, test/graders/fuzzy-kernel.unit.test.ts):
 * Hyyrö's bit-parallel LCS in 64-bit words, with rapidfuzz's Ukkonen band when a minimum LCS is asked for.
 *
 * Memory is laid out by the caller (`layout`, `place`; byte addresses): `rowOf` (i32 per id: the pattern's mask row
 * of that id, 0 when the pattern lacks it), `pat` (the pattern's ids, i32), `state` (u64 per word), `masks` (rows of
 * `words` u64; row 0 stays all zeros), `text` (ids, i32) and `out` (i32 sweep results).
 *
 * Generated artefact: fuzzy-kernel.wasm.ts. Regenerate after editing: npx tsx graders/metrics/fuzzy-kernel-build.ts
 */

let rowOf: usize = 0;
let pat: usize = 0;
let text: usize = 0;
let out: usize = 0;
let state: usize = 0;
let masks: usize = 0;

let len1: i32 = 0;
let words: i32 = 1;

const ALL: u64 = u64(-1);

/** Places the pattern's regions (`rowOf` must be all zeros) and forgets the pattern. */
export function layout(rowOfAt: usize, patAt: usize, stateAt: usize, masksAt: usize): void {
  rowOf = rowOfAt;
  pat = patAt;
  state = stateAt;
  masks = masksAt;
  len1 = 0;
}

/** Places the text and the sweep output; the pattern stays. */
export function place(textAt: usize, outAt: usize): void {
  text = textAt;
  out = outAt;
}

/** Forgets the pattern: clears the rowOf entries it set. Call before writing the next pattern into `pat`. */
export function clear(): void {
  for (let i = 0; i < len1; i++) store<i32>(rowOf + usize(load<i32>(pat + usize(i) * 4)) * 4, 0);
  len1 = 0;
}

/** Starts the pattern `pat[0, n)`: gives each distinct id a mask row; returns the rows `fill` needs (row 0 included). */
export function assign(n: i32): i32 {
  len1 = n;
  words = n <= 64 ? 1 : (n + 63) >> 6;
  let rows = 1;
  for (let i = 0; i < n; i++) {
    const slot = rowOf + usize(load<i32>(pat + usize(i) * 4)) * 4;
    if (load<i32>(slot) === 0) store<i32>(slot, rows++);
  }
  return rows;
}

/** Builds the masks of the pattern `assign` started, in `rows` rows. */
export function fill(rows: i32): void {
  const rowBytes = usize(words) * 8;
  memory.fill(masks, 0, usize(rows) * rowBytes);
  for (let i = 0; i < len1; i++) {
    const row = load<i32>(rowOf + usize(load<i32>(pat + usize(i) * 4)) * 4);
    const at = masks + usize(row) * rowBytes + usize(i >> 6) * 8;
    store<u64>(at, load<u64>(at) | (u64(1) << u64(i & 63)));
  }
}

/** The mask row of the text's id at position j. */
function rowAt(j: i32): usize {
  return masks + usize(load<i32>(rowOf + usize(load<i32>(text + usize(j) * 4)) * 4)) * usize(words) * 8;
}

/** Low `bits` bits set. */
function lowBits(bits: i32): u64 {
  return bits >= 64 ? ALL : (u64(1) << u64(bits)) - 1;
}

function zeros(): i32 {
  let total = 0;
  for (let w = 0; w < words; w++) {
    total += i32(popcnt<u64>(~load<u64>(state + usize(w) * 8) & lowBits(len1 - w * 64)));
  }
  return total;
}

/** One column of the multi-word LCS over words [first, last) of the state, with the mask row at `row`. */
function advance(row: usize, first: i32, last: i32): void {
  let carry: u64 = 0;
  for (let k = first; k < last; k++) {
    const sp = state + usize(k) * 8;
    const x = load<u64>(sp);
    const u = x & load<u64>(row + usize(k) * 8);
    const s = x + u;
    const sum = s + carry;
    carry = u64(s < x) | u64(sum < s);
    store<u64>(sp, sum | (x - u));
  }
}

/** LCS of the pattern and text[from, to); exact when at least `minLcs`, otherwise some smaller value. */
export function lcs(from: i32, to: i32, minLcs: i32): i32 {
  if (len1 === 0 || to <= from) return 0;
  if (words === 1) {
    let v = ALL;
    for (let j = from; j < to; j++) {
      const u = v & load<u64>(rowAt(j));
      v = (v + u) | (v - u);
    }
    return i32(popcnt<u64>(~v & lowBits(len1)));
  }
  memory.fill(state, 0xff, usize(words) * 8);
  const len2 = to - from;
  const bandLeft = len1 - minLcs;
  const bandRight = len2 - minLcs;
  for (let col = 0; col < len2; col++) {
    // Column `col` can only hold a match of a subsequence of length minLcs in pattern positions
    // [col - bandRight, col + bandLeft]: only the words holding those are computed.
    const first = col > bandRight ? (col - bandRight) >> 6 : 0;
    const last = min(words, (col + bandLeft + 64) >> 6);
    advance(rowAt(from + col), first, last);
  }
  return zeros();
}

/** out[k] = LCS of the pattern and the first k ids of the text read from `start` by `dir` (+1/-1), k = 0..count. */
export function sweep(start: i32, dir: i32, count: i32): void {
  store<i32>(out, 0);
  let j = start;
  if (words === 1) {
    const keep = lowBits(len1);
    let v = ALL;
    for (let k = 1; k <= count; k++) {
      const u = v & load<u64>(rowAt(j));
      v = (v + u) | (v - u);
      store<i32>(out + usize(k) * 4, i32(popcnt<u64>(~v & keep)));
      j += dir;
    }
    return;
  }
  memory.fill(state, 0xff, usize(words) * 8);
  for (let k = 1; k <= count; k++) {
    advance(rowAt(j), 0, words);
    store<i32>(out + usize(k) * 4, zeros());
    j += dir;
  }
}
