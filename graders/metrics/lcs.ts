/**
 * Length of the longest common subsequence of two integer sequences, with Hyyrö's bit-parallel algorithm (the one
 * rapidfuzz uses for its Indel distance): O(⌈m/30⌉·n) word operations. Words hold 30 bits so every intermediate
 * value stays a small integer for V8 (32-bit words spill into doubles and run several times slower).
 */

const BITS = 30;
const FULL = (1 << BITS) - 1;

export class LcsPattern {
  readonly words: number;
  /** Slot of each code point below 256 in `lowMasks` (-1: absent); no hashing on the hot path. */
  private readonly lowSlot = new Int16Array(256).fill(-1);
  /** Masks of those code points, `words` entries per slot. */
  private lowMasks: Int32Array;
  private readonly high = new Map<number, Int32Array>();

  constructor(readonly seq: ArrayLike<number>) {
    this.words = Math.max(1, Math.ceil(seq.length / BITS));
    let slots = 0;
    for (let i = 0; i < seq.length; i++) {
      const c = seq[i]!;
      if (c < 256 && this.lowSlot[c] === -1) this.lowSlot[c] = slots++;
    }
    this.lowMasks = new Int32Array(Math.max(1, slots) * this.words);
    for (let i = 0; i < seq.length; i++) {
      const c = seq[i]!;
      const w = (i / BITS) | 0;
      const bit = 1 << (i - w * BITS);
      if (c < 256) {
        this.lowMasks[this.lowSlot[c]! * this.words + w]! |= bit;
        continue;
      }
      let m = this.high.get(c);
      if (m === undefined) {
        m = new Int32Array(this.words);
        this.high.set(c, m);
      }
      m[w] = m[w]! | bit;
    }
  }

  has(c: number): boolean {
    return c < 256 ? this.lowSlot[c] !== -1 : this.high.has(c);
  }

  /** LCS length between the pattern and `other[from, to)`. */
  lcs(other: ArrayLike<number>, from = 0, to = other.length): number {
    if (this.seq.length === 0 || to <= from) return 0;
    if (this.words === 1) {
      // Single word: the whole recurrence in registers.
      let v = FULL;
      const slot = this.lowSlot;
      const masks = this.lowMasks;
      for (let j = from; j < to; j++) {
        const c = other[j]!;
        let m = 0;
        if (c < 256) {
          const k = slot[c]!;
          if (k < 0) continue;
          m = masks[k]!;
        } else {
          m = this.high.get(c)?.[0] ?? 0;
        }
        const u = v & m;
        v = ((v + u) | (v - u)) & FULL;
      }
      return zeroBits(v, this.seq.length);
    }
    const s = new Int32Array(this.words).fill(FULL);
    for (let j = from; j < to; j++) this.stepWith(s, other[j]!);
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
      this.stepWith(s, other[start + (k - 1) * dir]!);
      out[k] = this.zeros(s);
    }
    return out;
  }

  /** One column of Hyyrö's recurrence for character c: S = (S + (S & M)) | (S - (S & M)), carry across words. */
  private stepWith(s: Int32Array, c: number): void {
    const words = this.words;
    let m: Int32Array;
    let base = 0;
    if (c < 256) {
      const k = this.lowSlot[c]!;
      if (k < 0) return;
      m = this.lowMasks;
      base = k * words;
    } else {
      const hm = this.high.get(c);
      if (hm === undefined) return;
      m = hm;
    }
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const x = s[w]!;
      const u = x & m[base + w]!;
      const sum = x + u + carry;
      carry = sum >>> BITS;
      s[w] = (sum | (x - u)) & FULL;
    }
  }

  private zeros(s: Int32Array): number {
    let total = 0;
    const len1 = this.seq.length;
    for (let w = 0; w < this.words; w++) total += zeroBits(s[w]!, Math.min(BITS, len1 - w * BITS));
    return total;
  }
}

/** Number of zero bits among the low `bits` bits of `x`. */
export function zeroBits(x: number, bits: number): number {
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
