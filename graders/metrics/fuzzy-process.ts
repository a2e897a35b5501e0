/**
 * `rapidfuzz.utils.default_process` and `str.split()` for fuzzy_match, written into reusable integer buffers so a
 * grading allocates (almost) nothing: non-alphanumerics become spaces, letters are lowercased one code point to one
 * (the C++ version rapidfuzz calls: underscore is not alphanumeric), edges are trimmed; tokens are the space-separated
 * runs, sorted by code point as Python sorts strings.
 */
import { RAPIDFUZZ_NOT_ALNUM } from "./fuzzy-unicode.ts";

const ALNUM = /[\p{L}\p{N}]/u;

/** ASCII: lowercase alphanumerics keep their (lowercased) code, everything else becomes a space. */
const ASCII_MAP = new Int32Array(128).map((_, c) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) ? c : c >= 0x41 && c <= 0x5a ? c + 0x20 : 0x20,
);
/** The processed code point of each BMP code point, filled on first sight (-1: not yet known). */
const BMP_MAP = new Int32Array(0x10000).fill(-1);
const ASTRAL_MAP = new Map<number, number>();

/**
 * LCS ids of processed code points: below 256 a code point is its own id, the others are numbered from 256 on first
 * sight and keep their id across gradings (a per-grading Map cost more than the LCS on short texts). The numbering
 * restarts between gradings once it passes WIDE_ID_LIMIT, which bounds the LCS kernels' id tables.
 */
const WIDE_ID_BMP = new Int32Array(0x10000);
const WIDE_ID_ASTRAL = new Map<number, number>();
const WIDE_ID_LIMIT = 4096;
let nextWideId = 256;

function wideId(cp: number): number {
  if (cp < 0x10000) {
    let id = WIDE_ID_BMP[cp]!;
    if (id === 0) {
      id = nextWideId++;
      WIDE_ID_BMP[cp] = id;
    }
    return id;
  }
  let id = WIDE_ID_ASTRAL.get(cp);
  if (id === undefined) {
    id = nextWideId++;
    WIDE_ID_ASTRAL.set(cp, id);
  }
  return id;
}

/** One more than the largest LCS id given so far: the alphabet size the kernels must accept. */
export function alphabetSize(): number {
  return nextWideId;
}

/** Restarts the id numbering when it has grown past its limit; only between gradings (ids in use would change). */
export function trimAlphabet(): void {
  if (nextWideId <= WIDE_ID_LIMIT) return;
  WIDE_ID_BMP.fill(0);
  WIDE_ID_ASTRAL.clear();
  nextWideId = 256;
}

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

/** The processed code point of a code point at or above U+0080 (the WebAssembly pipeline imports it). */
export function mapNonAscii(c: number): number {
  if (c < 0x10000) {
    let mapped = BMP_MAP[c]!;
    if (mapped < 0) {
      mapped = processCodePoint(c);
      BMP_MAP[c] = mapped;
    }
    return mapped;
  }
  let mapped = ASTRAL_MAP.get(c);
  if (mapped === undefined) {
    mapped = processCodePoint(c);
    ASTRAL_MAP.set(c, mapped);
  }
  return mapped;
}

function processCodePoint(cp: number): number {
  if (!rapidfuzzAlnum(cp)) return 0x20;
  // Simple (one-to-one) lowercase mapping: only U+0130 has a multi-character full mapping among alnums.
  if (cp === 0x130) return 0x69;
  return String.fromCodePoint(cp).toLowerCase().codePointAt(0)!;
}

/** A processed text: code points, token spans and their sorted order, in buffers reused from call to call. */
export class ProcessedText {
  cps = new Int32Array(256);
  len = 0;
  /** Whether some code point is 256 or above (then the LCS reads `ids`). */
  wide = false;
  /** LCS ids of `cps` when `wide` (see `wideId`). */
  private ids = new Int32Array(256);
  /** What the LCS reads: `ids` when the text is wide, else `cps` (code points below 256 are their own id). */
  seq: Int32Array = this.cps;
  starts = new Int32Array(32);
  ends = new Int32Array(32);
  /** FNV-1a hash of each token's code points. */
  hashes = new Int32Array(32);
  /** Sort key of each token: its first two code points, so most comparisons need not walk the tokens. */
  private keys = new Float64Array(32);
  tokens = 0;
  /** Token indices in code-point order. */
  order = new Int32Array(32);

  /** default_process(text); `tokenize` then splits and sorts it. */
  load(text: string): void {
    if (this.cps.length < text.length) this.cps = new Int32Array(Math.max(text.length, this.cps.length * 2));
    let n = this.mapText(text);
    const cps = this.cps;
    let start = 0;
    while (start < n && cps[start] === 0x20) start++;
    while (n > start && cps[n - 1] === 0x20) n--;
    if (start > 0) cps.copyWithin(0, start, n);
    this.len = n - start;
    this.seq = this.wide ? this.toIds() : cps;
  }

  /** Processed code points of `text` into `cps` (and `wide`); returns their count. */
  private mapText(text: string): number {
    const cps = this.cps;
    let n = 0;
    let wide = false;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        cps[n++] = ASCII_MAP[c]!;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      const mapped = mapNonAscii(c);
      cps[n++] = mapped;
      if (mapped >= 256) wide = true;
    }
    this.wide = wide;
    return n;
  }

  private toIds(): Int32Array {
    if (this.ids.length < this.cps.length) this.ids = new Int32Array(this.cps.length);
    const ids = this.ids;
    const cps = this.cps;
    for (let i = 0; i < this.len; i++) {
      const c = cps[i]!;
      ids[i] = c < 256 ? c : wideId(c);
    }
    return ids;
  }

  /** Splits the text into tokens (with a hash each) and sorts them. */
  tokenize(): void {
    this.split();
    this.sortTokens();
  }

  /** Whether token i of this text equals token j of `other`. */
  sameToken(i: number, other: ProcessedText, j: number): boolean {
    if (this.hashes[i] !== other.hashes[j]) return false;
    const start = this.starts[i]!;
    const len = this.ends[i]! - start;
    const otherStart = other.starts[j]!;
    if (other.ends[j]! - otherStart !== len) return false;
    for (let k = 0; k < len; k++) if (this.cps[start + k] !== other.cps[otherStart + k]) return false;
    return true;
  }

  private split(): void {
    const cps = this.cps;
    const len = this.len;
    let count = 0;
    let i = 0;
    while (i < len) {
      while (i < len && cps[i] === 0x20) i++;
      if (i >= len) break;
      const start = i;
      let h = 0x811c9dc5;
      while (i < len && cps[i] !== 0x20) h = Math.imul(h ^ cps[i++]!, 0x01000193);
      if (count === this.starts.length) {
        this.starts = grow(this.starts);
        this.ends = grow(this.ends);
        this.hashes = grow(this.hashes);
        this.order = new Int32Array(this.starts.length);
        // The keys written so far are kept: a fresh array here once sorted the first long text by zeros.
        const keys = new Float64Array(this.starts.length);
        keys.set(this.keys);
        this.keys = keys;
      }
      this.starts[count] = start;
      this.ends[count] = i;
      this.hashes[count] = h;
      this.keys[count] = (cps[start]! + 1) * 0x400000 + (i - start > 1 ? cps[start + 1]! + 1 : 0);
      count++;
    }
    this.tokens = count;
  }

  /** Compares tokens i and j by code point, as Python compares strings. */
  compare(i: number, j: number): number {
    const cps = this.cps;
    let a = this.starts[i]!;
    let b = this.starts[j]!;
    const endA = this.ends[i]!;
    const endB = this.ends[j]!;
    while (a < endA && b < endB) {
      const d = cps[a]! - cps[b]!;
      if (d !== 0) return d;
      a++;
      b++;
    }
    return endA - a - (endB - b);
  }

  private sortTokens(): void {
    const n = this.tokens;
    if (n <= 40) {
      for (let i = 0; i < n; i++) this.order[i] = i;
      this.insertionSort(this.order, 0, n);
      return;
    }
    this.sortDistinct();
  }

  /** Whether token x sorts after token y (their keys first, the code points on a tie). */
  private after(x: number, y: number): boolean {
    const kx = this.keys[x]!;
    const ky = this.keys[y]!;
    return kx > ky || (kx === ky && this.compare(x, y) > 0);
  }

  /** Sorts the tokens `ids[from, to)` in place: most texts have few tokens, and it needs no closure or array. */
  private insertionSort(ids: Int32Array, from: number, to: number): void {
    for (let i = from + 1; i < to; i++) {
      const t = ids[i]!;
      let j = i - 1;
      while (j >= from && this.after(ids[j]!, t)) {
        ids[j + 1] = ids[j]!;
        j--;
      }
      ids[j + 1] = t;
    }
  }

  /** Sorts the tokens `ids[0, n)`: insertion-sorted runs of 16, merged bottom-up through `scratch`. */
  private mergeSort(ids: Int32Array<ArrayBuffer>, n: number): void {
    const RUN = 16;
    for (let from = 0; from < n; from += RUN) this.insertionSort(ids, from, Math.min(n, from + RUN));
    if (scratch.length < n) scratch = new Int32Array(Math.max(n, scratch.length * 2));
    let src = ids;
    let dst = scratch;
    for (let width = RUN; width < n; width *= 2) {
      for (let lo = 0; lo < n; lo += 2 * width) {
        const mid = Math.min(n, lo + width);
        const hi = Math.min(n, lo + 2 * width);
        let i = lo;
        let j = mid;
        let k = lo;
        while (i < mid && j < hi) dst[k++] = this.after(src[i]!, src[j]!) ? src[j++]! : src[i++]!;
        while (i < mid) dst[k++] = src[i++]!;
        while (j < hi) dst[k++] = src[j++]!;
      }
      const swap = src;
      src = dst;
      dst = swap;
    }
    if (src !== ids) ids.set(src.subarray(0, n));
  }

  /**
   * Long texts repeat their words: group equal tokens by hash, sort only the distinct ones (comparing a two-code-point
   * key before the whole token), then lay each one's copies out together (any copy serves, they are equal).
   */
  private sortDistinct(): void {
    const n = this.tokens;
    let size = 64;
    while (size < 2 * n) size *= 2;
    if (slots.length < size) slots = new Int32Array(size);
    if (counts.length < n) counts = new Int32Array(this.starts.length);
    slots.fill(-1, 0, size);
    if (distinct.length < n) distinct = new Int32Array(this.starts.length);
    let count = 0;
    for (let t = 0; t < n; t++) {
      let slot = this.hashes[t]! & (size - 1);
      for (;;) {
        const rep = slots[slot]!;
        if (rep < 0) {
          slots[slot] = t;
          counts[t] = 1;
          distinct[count++] = t;
          break;
        }
        if (this.compare(rep, t) === 0) {
          counts[rep]!++;
          break;
        }
        slot = (slot + 1) & (size - 1);
      }
    }
    this.mergeSort(distinct, count);
    let k = 0;
    for (let d = 0; d < count; d++) {
      const t = distinct[d]!;
      for (let c = counts[t]!; c > 0; c--) this.order[k++] = t;
    }
  }
}

let slots = new Int32Array(64);
let counts = new Int32Array(32);
let distinct = new Int32Array(32);
let scratch = new Int32Array(32);

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
