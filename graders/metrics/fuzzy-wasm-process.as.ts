// @ts-nocheck: AssemblyScript (u64, usize, load<T>...), compiled by asc, not tsc; written in TS syntax so tools parse it.
/**
 * `rapidfuzz.utils.default_process` in the WebAssembly WRatio pipeline (fuzzy-wratio.as.ts), before trimming: the
 * texts arrive as UTF-8, ASCII is mapped by a table, and every other code point by fuzzy-process.ts's rules
 * (`mapNonAscii`, imported from JS), asked once per BMP code point and remembered.
 */
import { at32, set32 } from "./fuzzy-wasm-lcs.as.ts";

/** The processed code point of a code point from U+0080 on (fuzzy-process.ts `mapNonAscii`, imported from JS). */
declare function mapCodePoint(cp: i32): i32;

/** default_process for ASCII: lowercase alphanumerics keep their (lowercased) code, everything else becomes a space. */
// biome-ignore format: a table
const ASCII_MAP = memory.data<u8>([
  32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
  32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
  32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
  48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 32, 32, 32, 32, 32, 32,
  32, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
  112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 32, 32, 32, 32, 32,
  32, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
  112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 32, 32, 32, 32, 32,
]);

/** The processed code point of each BMP code point, filled on first sight (-1: not yet known); placed by `layout`. */
let bmpMap: usize = 0;

/** Places the BMP map (0x10000 i32) and marks every entry unknown. */
export function placeBmpMap(at: usize): void {
  bmpMap = at;
  memory.fill(at, 0xff, 0x10000 << 2);
}

/** Whether the last `decode` wrote a code point from 256 on. */
export let decodedWide = false;

/**
 * default_process's code points (not yet trimmed) of the UTF-8 text src[0, n) (what `TextEncoder.encodeInto` wrote:
 * valid, a lone surrogate already U+FFFD, which is no alphanumeric, as the surrogate would not be) into `dst`;
 * returns their count.
 */
export function decode(src: usize, n: i32, dst: usize): i32 {
  let count = 0;
  let wide = false;
  let i = 0;
  while (i < n) {
    let c = i32(load<u8>(src + usize(i)));
    if (c < 0x80) {
      set32(dst, count++, i32(load<u8>(ASCII_MAP + usize(c))));
      i++;
      continue;
    }
    const b1 = i32(load<u8>(src + usize(i + 1))) & 0x3f;
    if (c < 0xe0) {
      c = ((c & 0x1f) << 6) | b1;
      i += 2;
    } else {
      const b2 = i32(load<u8>(src + usize(i + 2))) & 0x3f;
      if (c < 0xf0) {
        c = ((c & 0x0f) << 12) | (b1 << 6) | b2;
        i += 3;
      } else {
        c = ((c & 0x07) << 18) | (b1 << 12) | (b2 << 6) | (i32(load<u8>(src + usize(i + 3))) & 0x3f);
        i += 4;
      }
    }
    let mapped: i32;
    if (c < 0x10000) {
      mapped = at32(bmpMap, c);
      if (mapped < 0) {
        mapped = mapCodePoint(c);
        set32(bmpMap, c, mapped);
      }
    } else mapped = mapCodePoint(c);
    if (mapped >= 256) wide = true;
    set32(dst, count++, mapped);
  }
  decodedWide = wide;
  return count;
}
