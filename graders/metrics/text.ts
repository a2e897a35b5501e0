/**
 * Text helpers that reproduce Python's string semantics, so the metrics agree with the Python reference
 * libraries character for character: `str.split()` whitespace, code-point lengths and code-point ordering.
 */

/** The code points for which Python's `str.isspace()` is true (checked against CPython 3.11). */
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/**
 * A run of `PY_SPACE` characters, as one regex built from the set (a loop over code points with a set lookup, for
 * texts with any non-ASCII space, ran 5-10x slower): none is astral, so matching code units is matching code points.
 */
const PY_SPACES = new RegExp(`[${[...PY_SPACE].map((cp) => `\\u${cp.toString(16).padStart(4, "0")}`).join("")}]+`);

/** Python's `str.split()` with no arguments: split on runs of whitespace, drop empty pieces. */
export function pySplit(text: string): string[] {
  const out = text.split(PY_SPACES);
  if (out.length > 0 && out[0] === "") out.shift();
  if (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out;
}

const HAS_SURROGATE = /[\ud800-\udfff]/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+001C..U+001F are whitespace to Python's str.rstrip().
const PY_TRAILING_SPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

/** Python's `str.rstrip()`. */
export function pyRstrip(text: string): string {
  return text.replace(PY_TRAILING_SPACE, "");
}

/** Interns strings to small integers, so n-grams can be keyed without separator collisions. */
export class Interner {
  private readonly ids = new Map<string, number>();
  id(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(token, id);
    }
    return id;
  }
  internAll(tokens: string[]): number[] {
    return tokens.map((t) => this.id(t));
  }
  get size(): number {
    return this.ids.size;
  }
}

/** Length in code points, as Python's `len(str)`. */
export function cpLength(text: string): number {
  if (!HAS_SURROGATE.test(text)) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The code points of a string. */
export function codePoints(text: string): number[] {
  if (!HAS_SURROGATE.test(text)) {
    const bmp: number[] = new Array(text.length);
    for (let i = 0; i < text.length; i++) bmp[i] = text.charCodeAt(i);
    return bmp;
  }
  const out: number[] = new Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out[n++] = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
        i++;
        continue;
      }
    }
    out[n++] = c;
  }
  out.length = n;
  return out;
}

/** Compare strings by code point, as Python's `<` on `str` does (JS's `<` compares UTF-16 units). */
export function cmpCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF in code-point order.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Count occurrences of each key. */
export function counter<T>(items: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const it of items) m.set(it, (m.get(it) ?? 0) + 1);
  return m;
}

/**
 * Counts the n-grams of `ids` (token ids below `vocab`) for each order in [minN, maxN], keyed by one number
 * (exact while vocab^n·(maxN+1) < 2^53; beyond that the key falls back to a string).
 */
export function countNgrams(ids: number[], vocab: number, minN: number, maxN: number): Map<number | string, number> {
  const out = new Map<number | string, number>();
  const base = Math.max(2, vocab);
  const exact = (maxN + 1) * base ** maxN < 2 ** 53;
  for (let n = minN; n <= maxN; n++) {
    for (let i = 0; i + n <= ids.length; i++) {
      let key: number | string;
      if (exact) {
        let k = n;
        for (let j = 0; j < n; j++) k = k * base + ids[i + j]!;
        key = k;
      } else {
        key = `${n}:${ids.slice(i, i + n).join(",")}`;
      }
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}
