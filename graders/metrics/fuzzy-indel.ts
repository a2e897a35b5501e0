/**
 * The LCS kernel behind fuzzy_match's Indel similarities: Hyyrö's bit-parallel LCS over a pattern whose match masks
 * are built once and reused (partial_ratio's windows, prefix and suffix sweeps), with rapidfuzz's Ukkonen band when
 * a minimum LCS is asked for (`lcs_blockwise` in rapidfuzz-cpp: words outside the band cannot hold a path that
 * reaches the cut-off, so they are not computed).
 *
 * Sequences are small integer ids (code points below 256 are their own id, the rest are numbered, fuzzy-process.ts), so a
 * mask lookup is one typed-array read. Words hold 30 bits: every intermediate value stays a small integer for V8
 * (32-bit words spill into doubles and run several times slower).
 */

import { zeroBits } from "./lcs.ts";

const BITS = 30;
const FULL = (1 << BITS) - 1;

export class Pattern {
  /** Pattern length. */
  len = 0;
  words = 1;
  /**
   * One word: `single[id]`, bit i set where the pattern holds `id` at position i. More words: `masks[row * words + w]`
   * for the row `rowOf[id]` of each distinct id (row 0, all zeros, for the ids it lacks), so that table grows with the
   * pattern, not the alphabet.
   */
  private single = new Int32Array(256);
  private masks = new Int32Array(256);
  private rowOf = new Int32Array(256);
  /** Its distinct ids, kept to clear exactly what they set. */
  private distinct = new Int32Array(64);
  private distinctCount = 0;
  private state = new Int32Array(4);
  private sweepOut = new Int32Array(64);

  /** Builds the masks of `seq[from, to)`, read backwards when `reverse`; ids must be below `alpha`. */
  build(seq: Int32Array, from: number, to: number, alpha: number, reverse = false): void {
    this.clear();
    const len = to - from;
    const words = Math.max(1, Math.ceil(len / BITS));
    if (this.distinct.length < len) this.distinct = new Int32Array(Math.max(len, this.distinct.length * 2));
    if (this.rowOf.length < alpha) this.rowOf = new Int32Array(Math.max(alpha, this.rowOf.length * 2));
    if (this.state.length < words) this.state = new Int32Array(Math.max(words, this.state.length * 2));
    this.len = len;
    this.words = words;
    let distinct = 0;
    if (words === 1) {
      if (this.single.length < alpha) this.single = new Int32Array(Math.max(alpha, this.single.length * 2));
      const masks = this.single;
      for (let i = 0; i < len; i++) {
        const c = reverse ? seq[to - 1 - i]! : seq[from + i]!;
        if (masks[c] === 0) this.distinct[distinct++] = c;
        masks[c]! |= 1 << i;
      }
      this.distinctCount = distinct;
      return;
    }
    const rowOf = this.rowOf;
    for (let i = 0; i < len; i++) {
      const c = reverse ? seq[to - 1 - i]! : seq[from + i]!;
      if (rowOf[c] === 0) {
        this.distinct[distinct++] = c;
        rowOf[c] = distinct;
      }
    }
    this.distinctCount = distinct;
    // Row 0 is all zeros, for ids the pattern lacks.
    const size = (distinct + 1) * words;
    if (this.masks.length < size) this.masks = new Int32Array(Math.max(size, this.masks.length * 2));
    const masks = this.masks;
    masks.fill(0, 0, size);
    for (let i = 0; i < len; i++) {
      const c = reverse ? seq[to - 1 - i]! : seq[from + i]!;
      const w = (i / BITS) | 0;
      masks[rowOf[c]! * words + w]! |= 1 << (i - w * BITS);
    }
  }

  private clear(): void {
    const single = this.words === 1;
    for (let i = 0; i < this.distinctCount; i++) {
      const c = this.distinct[i]!;
      if (single) this.single[c] = 0;
      else this.rowOf[c] = 0;
    }
    this.distinctCount = 0;
    this.len = 0;
  }

  /** Whether the pattern contains `id`. */
  has(id: number): boolean {
    return this.words === 1 ? this.single[id] !== 0 : this.rowOf[id] !== 0;
  }

  /**
   * LCS length of the pattern and `text[from, to)`. Exact when it is at least `minLcs`; otherwise some smaller value
   * (the band left out may have held part of a shorter common subsequence).
   */
  lcs(text: Int32Array, from: number, to: number, minLcs = 0): number {
    const len1 = this.len;
    if (len1 === 0 || to <= from) return 0;
    const masks = this.masks;
    const words = this.words;
    if (words === 1) {
      const single = this.single;
      let v = FULL;
      for (let j = from; j < to; j++) {
        const u = v & single[text[j]!]!;
        v = ((v + u) | (v - u)) & FULL;
      }
      return zeroBits(v, len1);
    }
    const rowOf = this.rowOf;
    const s = this.state;
    s.fill(FULL, 0, words);
    const len2 = to - from;
    const bandLeft = len1 - minLcs;
    const bandRight = len2 - minLcs;
    let frozen = 0;
    let frozenTo = 0;
    for (let row = 0; row < len2; row++) {
      // Column `row` can only hold a match of a subsequence of length minLcs in pattern rows
      // [row - bandRight, row + bandLeft]: only the words holding those rows are computed.
      const first = row > bandRight ? ((row - bandRight) / BITS) | 0 : 0;
      const last = Math.min(words, Math.ceil((row + bandLeft + 1) / BITS));
      const base = rowOf[text[from + row]!]! * words;
      let carry = 0;
      for (let w = first; w < last; w++) {
        const x = s[w]!;
        const u = x & masks[base + w]!;
        const sum = x + u + carry;
        carry = sum >>> BITS;
        s[w] = (sum | (x - u)) & FULL;
      }
      // Every 64 columns: a path within the band has at most as many matches so far as the state's zeros, and one
      // per column left; when those cannot reach minLcs, neither can the LCS. Words below the band never change
      // again and are counted once; words above it are all ones.
      if ((row & 63) === 63 && minLcs > 0) {
        for (; frozenTo < first; frozenTo++) frozen += zeroBits(s[frozenTo]!, Math.min(BITS, len1 - frozenTo * BITS));
        let matches = frozen;
        for (let w = frozenTo; w < last; w++) matches += zeroBits(s[w]!, Math.min(BITS, len1 - w * BITS));
        if (matches + (len2 - 1 - row) < minLcs) return 0;
      }
    }
    return this.zeros(s);
  }

  /**
   * `out[k]` = LCS of the pattern and the first k ids of `text` read from `start` in direction `dir` (+1 forwards,
   * -1 backwards), for k = 0..count: one pass, since the bit-vector after k ids encodes exactly that. The array is
   * reused by the next sweep.
   */
  sweep(text: Int32Array, start: number, dir: 1 | -1, count: number): Int32Array {
    if (this.sweepOut.length < count + 1) this.sweepOut = new Int32Array(Math.max(count + 1, this.sweepOut.length * 2));
    const out = this.sweepOut;
    out[0] = 0;
    const masks = this.masks;
    const words = this.words;
    if (words === 1) {
      const single = this.single;
      let v = FULL;
      for (let k = 1; k <= count; k++) {
        const u = v & single[text[start + (k - 1) * dir]!]!;
        v = ((v + u) | (v - u)) & FULL;
        out[k] = zeroBits(v, this.len);
      }
      return out;
    }
    const rowOf = this.rowOf;
    const s = this.state;
    s.fill(FULL, 0, words);
    for (let k = 1; k <= count; k++) {
      const base = rowOf[text[start + (k - 1) * dir]!]! * words;
      let carry = 0;
      for (let w = 0; w < words; w++) {
        const x = s[w]!;
        const u = x & masks[base + w]!;
        const sum = x + u + carry;
        carry = sum >>> BITS;
        s[w] = (sum | (x - u)) & FULL;
      }
      out[k] = this.zeros(s);
    }
    return out;
  }

  private zeros(s: Int32Array): number {
    let total = 0;
    const len1 = this.len;
    for (let w = 0; w < this.words; w++) total += zeroBits(s[w]!, Math.min(BITS, len1 - w * BITS));
    return total;
  }
}
