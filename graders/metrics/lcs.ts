/**
 * Length of the longest common subsequence of two integer sequences, with Hyyrö's bit-parallel algorithm (the one
 * rapidfuzz uses for its Indel distance): O(⌈m/30⌉·n) word operations. Words hold 30 bits so every intermediate
 * value stays a small integer for V8 (32-bit words spill into doubles and run several times slower).
 */

const BITS = 30;
const FULL = (1 << BITS) - 1;

export class LcsPattern {
  readonly words: number;
  private readonly masks = new Map<number, Int32Array>();

  constructor(readonly seq: ArrayLike<number>) {
    this.words = Math.max(1, Math.ceil(seq.length / BITS));
    for (let i = 0; i < seq.length; i++) {
      const c = seq[i]!;
      let m = this.masks.get(c);
      if (m === undefined) {
        m = new Int32Array(this.words);
        this.masks.set(c, m);
      }
      const w = (i / BITS) | 0;
      m[w] = m[w]! | (1 << (i - w * BITS));
    }
  }

  has(c: number): boolean {
    return this.masks.has(c);
  }

  /** LCS length between the pattern and `other[from, to)`. */
  lcs(other: ArrayLike<number>, from = 0, to = other.length): number {
    if (this.seq.length === 0 || to <= from) return 0;
    const s = new Int32Array(this.words).fill(FULL);
    for (let j = from; j < to; j++) {
      const m = this.masks.get(other[j]!);
      if (m !== undefined) step(s, m, this.words);
    }
    return this.zeros(s);
  }

  /**
   * `out[k]` = LCS of the pattern and the first k items of `other` read from `start` in direction `dir`
   * (+1 forwards, -1 backwards), for k = 0..count: one pass, since the bit-vector after k items encodes exactly that.
   */
  lcsSweep(other: ArrayLike<number>, start: number, dir: 1 | -1, count: number): Int32Array {
    const out = new Int32Array(count + 1);
    const s = new Int32Array(this.words).fill(FULL);
    for (let k = 1; k <= count; k++) {
      const m = this.masks.get(other[start + (k - 1) * dir]!);
      if (m !== undefined) step(s, m, this.words);
      out[k] = this.zeros(s);
    }
    return out;
  }

  private zeros(s: Int32Array): number {
    let total = 0;
    const len1 = this.seq.length;
    for (let w = 0; w < this.words; w++) total += zeroBits(s[w]!, Math.min(BITS, len1 - w * BITS));
    return total;
  }
}

/** One column of Hyyrö's recurrence: S = (S + (S & M)) | (S - (S & M)), with the carry across words. */
function step(s: Int32Array, m: Int32Array, words: number): void {
  let carry = 0;
  for (let w = 0; w < words; w++) {
    const x = s[w]!;
    const u = x & m[w]!;
    const sum = x + u + carry;
    carry = sum >>> BITS;
    s[w] = (sum | (x - u)) & FULL;
  }
}

/** Number of zero bits among the low `bits` bits of `x`. */
function zeroBits(x: number, bits: number): number {
  let v = ~x & ((1 << bits) - 1);
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** LCS length of two integer sequences. */
export function lcsLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 || b.length === 0) return 0;
  return a.length <= b.length ? new LcsPattern(a).lcs(b) : new LcsPattern(b).lcs(a);
}
