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

const encoder = new TextEncoder();
let utf8 = new Uint8Array(1024);

/** The processed code point of a code point at or above U+0080. */
function mapNonAscii(c: number): number {
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
    this.wide = false;
    // TextEncoder.encodeInto copies a string out about 3x faster than charCodeAt per code unit, once past its call cost.
    let n = text.length >= 24 ? this.mapUtf8(text) : this.mapUtf16(text);
    const cps = this.cps;
    let start = 0;
    while (start < n && cps[start] === 0x20) start++;
    while (n > start && cps[n - 1] === 0x20) n--;
    if (start > 0) cps.copyWithin(0, start, n);
    this.len = n - start;
    this.seq = this.wide ? this.toIds() : cps;
  }

  /** Processed code points of `text` into `cps`, read with charCodeAt; returns their count. */
  private mapUtf16(text: string): number {
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

  /**
   * The same through UTF-8 (`encodeInto`): lone surrogates arrive as U+FFFD, which, like them, is no alphanumeric and
   * becomes a space.
   */
  private mapUtf8(text: string): number {
    if (utf8.length < text.length * 3) utf8 = new Uint8Array(Math.max(text.length * 3, utf8.length * 2));
    const bytes = utf8;
    const end = encoder.encodeInto(text, bytes).written;
    const cps = this.cps;
    let n = 0;
    let wide = false;
    let i = 0;
    while (i < end) {
      const b = bytes[i]!;
      if (b < 0x80) {
        cps[n++] = ASCII_MAP[b]!;
        i++;
        continue;
      }
      let c: number;
      if (b < 0xe0) {
        c = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
        i += 2;
      } else if (b < 0xf0) {
        c = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
        i += 3;
      } else {
        c =
          ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
        i += 4;
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
        this.keys = new Float64Array(this.starts.length);
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
    const order = this.order;
    if (n <= 24) {
      // Insertion sort: most texts have few tokens, and it needs no closure or array.
      const keys = this.keys;
      for (let i = 0; i < n; i++) {
        const t = i;
        const key = keys[t]!;
        let j = i - 1;
        while (j >= 0 && (keys[order[j]!]! > key || (keys[order[j]!] === key && this.compare(order[j]!, t) > 0))) {
          order[j + 1] = order[j]!;
          j--;
        }
        order[j + 1] = t;
      }
      return;
    }
    this.sortDistinct();
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
    const keys = this.keys;
    slots.fill(-1, 0, size);
    const distinct: number[] = [];
    for (let t = 0; t < n; t++) {
      let slot = this.hashes[t]! & (size - 1);
      for (;;) {
        const rep = slots[slot]!;
        if (rep < 0) {
          slots[slot] = t;
          counts[t] = 1;
          distinct.push(t);
          break;
        }
        if (this.compare(rep, t) === 0) {
          counts[rep]!++;
          break;
        }
        slot = (slot + 1) & (size - 1);
      }
    }
    distinct.sort((x, y) => keys[x]! - keys[y]! || this.compare(x, y));
    let k = 0;
    for (const t of distinct) for (let c = counts[t]!; c > 0; c--) this.order[k++] = t;
  }
}

let slots = new Int32Array(64);
let counts = new Int32Array(32);

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
