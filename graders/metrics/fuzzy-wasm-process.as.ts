// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * `rapidfuzz.utils.default_process` in the WebAssembly WRatio pipeline (fuzzy-wratio.as.ts), before trimming, and the
 * LCS ids of the processed code points: the texts arrive as UTF-16, ASCII is mapped sixteen code units at a time, and
 * every other code point by fuzzy-process.ts's rules (`mapNonAscii`, imported from JS), asked once per BMP code point
 * and remembered.
 */
import { alloc, at32, set32 } from "./fuzzy-wasm-lcs.as.ts";

/** The processed code point of a code point from U+0080 on (fuzzy-process.ts `mapNonAscii`, imported from JS). */
declare function mapCodePoint(cp: i32): i32;

/** The processed code point of each BMP code point, filled on first sight (-1: not yet known); placed by `layout`. */
let bmpMap: usize = 0;

/** Places the BMP map (0x10000 i32) and marks every entry unknown. */
export function placeBmpMap(at: usize): void {
  bmpMap = at;
  memory.fill(at, 0xff, 0x10000 << 2);
}

// LCS ids: a processed code point below 256 is its own id; the others are numbered from 256 in order of first sight
// this grading, so the LCS's mask tables are indexed by id and never larger than 256 + the texts' length.
/**
 * Processed code point -> its id this grading, for code points from 256 on: open addressing over `wideCap` slots of
 * (key, id), the key the code point with this grading's stamp above it, so a slot of another grading reads as empty
 * and the table is cleared only when the stamp wraps. Sized to the texts (`layout`), it stays in the first-level cache
 * for short texts, where a table indexed by code point (4.4 MB) cost a cache miss per wide character.
 */
let wideSlots: usize = 0;
let wideMask = 0;
let wideStamp = 0;
/** Id - 256 -> its processed code point, this grading. */
let wideCps: usize = 0;
let nextWideId = 256;

/** Places the wide-id table: `cap` slots (a power of two, at least twice the code points a grading can hold), zeroed. */
export function placeWideIds(at: usize, cap: i32): void {
  wideSlots = at;
  wideMask = cap - 1;
  wideStamp = 0;
}

/** Starts a grading's ids, with room for `maxWide` distinct wide code points (an arena region). */
export function startIds(maxWide: i32): void {
  wideCps = alloc(usize(maxWide) << 2);
  nextWideId = 256;
  // Code points take 21 bits; the stamp the 11 above them.
  if (++wideStamp === 0x800) {
    memory.fill(wideSlots, 0, usize(wideMask + 1) << 3);
    wideStamp = 1;
  }
}

/** How many ids this grading uses (every id is below it). */
export function idCount(): i32 {
  return nextWideId;
}

/** The processed code point of an id. */
export function cpOf(id: i32): i32 {
  return id < 256 ? id : at32(wideCps, id - 256);
}

function idOf(mapped: i32): i32 {
  if (mapped < 256) return mapped;
  const key = (wideStamp << 21) | mapped;
  let slot = i32((u32(mapped) * 0x9e3779b1) >> 11) & wideMask;
  let p = wideSlots + (usize(slot) << 3);
  let k = load<i32>(p);
  // Past the slots of this grading's other code points: to this one's, or to a free slot (another grading's stamp).
  while (k !== key && k >>> 21 === wideStamp) {
    slot = (slot + 1) & wideMask;
    p = wideSlots + (usize(slot) << 3);
    k = load<i32>(p);
  }
  if (k === key) return load<i32>(p, 4);
  const id = nextWideId++;
  store<i32>(p, key);
  store<i32>(p, id, 4);
  set32(wideCps, id - 256, mapped);
  return id;
}

/**
 * default_process of the UTF-16 text src[0, n) (code units, as JS strings hold them), not yet trimmed, as LCS ids into
 * `dst`; returns their count. A lone surrogate is processed as itself (no alphanumeric: a space), as Python would.
 */
export function decode(src: usize, n: i32, dst: usize): i32 {
  let count = 0;
  let i = 0;
  while (i < n) {
    // Sixteen code units at once, mapped by default_process's ASCII rule (letters lowercased, digits kept, everything
    // else a space) as bytes and all sixteen stored as ids; the ASCII ones up to the first other code unit (or the
    // text's end) are kept. Clamped to 0xff before narrowing (narrowing reads lanes as signed), every other code unit
    // has its byte's top bit set. Reading and writing past the end stays inside the module's text regions: `layout`
    // leaves room, and what lies past a text's end there is overwritten or never read.
    const clamp = i16x8.splat(0xff);
    const bytes = i8x16.narrow_i16x8_u(
      i16x8.min_u(v128.load(src + (usize(i) << 1)), clamp),
      i16x8.min_u(v128.load(src + (usize(i) << 1), 16), clamp),
    );
    const lower = v128.or(bytes, i8x16.splat(0x20));
    const letter = i8x16.lt_u(i8x16.sub(lower, i8x16.splat(0x61)), i8x16.splat(26));
    const digit = i8x16.lt_u(i8x16.sub(bytes, i8x16.splat(0x30)), i8x16.splat(10));
    const lanes = v128.bitselect(lower, v128.bitselect(bytes, i8x16.splat(0x20), digit), letter);
    const first8 = i16x8.extend_low_i8x16_u(lanes);
    const last8 = i16x8.extend_high_i8x16_u(lanes);
    const at = dst + (usize(count) << 2);
    v128.store(at, i32x4.extend_low_i16x8_u(first8));
    v128.store(at, i32x4.extend_high_i16x8_u(first8), 16);
    v128.store(at, i32x4.extend_low_i16x8_u(last8), 32);
    v128.store(at, i32x4.extend_high_i16x8_u(last8), 48);
    const wide = i8x16.bitmask(bytes);
    if (wide === 0 && i + 16 <= n) {
      i += 16;
      count += 16;
      continue;
    }
    const ascii = min(i32(ctz<u32>(wide | 0x10000)), n - i);
    count += ascii;
    i += ascii;
    if (ascii === 16 || i >= n) continue;
    const c = i32(load<u16>(src + (usize(i) << 1)));
    i++;
    if ((c & 0xfc00) === 0xd800 && i < n) {
      const low = i32(load<u16>(src + (usize(i) << 1)));
      if ((low & 0xfc00) === 0xdc00) {
        i++;
        set32(dst, count++, idOf(mapCodePoint(0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00))));
        continue;
      }
    }
    let mapped = at32(bmpMap, c);
    if (mapped < 0) {
      mapped = mapCodePoint(c);
      set32(bmpMap, c, mapped);
    }
    set32(dst, count++, idOf(mapped));
  }
  return count;
}
