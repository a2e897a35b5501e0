/**
 * fuzzy_match's WebAssembly pipeline (fuzzy-wratio.as.ts: default_process and WRatio) and whether it runs here. Per
 * grading, JS only writes the two texts into the module's memory as UTF-8 and reads back one number; the module asks
 * JS (fuzzy-process.ts `mapNonAscii`) only for the processed form of a non-ASCII code point it has not seen before.
 *
 * The module is compiled from bytes embedded in fuzzy-wratio.wasm.ts (generated, see fuzzy-kernel-build.ts). workerd
 * forbids compiling WebAssembly from bytes at run time: there the compile throws and fuzzy.ts runs its JS pipeline,
 * which gives the same scores (test/graders/fuzzy-wasm.unit.test.ts).
 */
import { mapNonAscii } from "./fuzzy-process.ts";
import { FUZZY_WRATIO_WASM } from "./fuzzy-wratio.wasm.ts";

interface WRatioExports {
  memory: WebAssembly.Memory;
  input(maxA: number, maxB: number): number;
  bytesB(): number;
  wratio(bytesA: number, bytesB: number): number;
}

function compile(): WebAssembly.Module | null {
  try {
    const text = atob(FUZZY_WRATIO_WASM);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new WebAssembly.Module(bytes);
  } catch {
    return null; // workerd: no compiling from bytes
  }
}

const wratioModule = compile();

/** Whether the WebAssembly pipeline runs here. */
export const wasmKernelAvailable = wratioModule !== null;

/** Memory (bytes) past which an instance is dropped after its grading: WebAssembly memory never shrinks. */
const RETAIN_LIMIT = 64 << 20;

let instance: WRatioExports | null = null;
/**
 * Views of the instance's memory where the texts go, in UTF-8 (`TextEncoder.encodeInto` writes them several times
 * faster than a JS loop writes code points), and how many UTF-16 code units each holds. Re-taken whenever the memory
 * grew: growing detaches the old buffer, and a detached view has length 0 (reading `memory.buffer` on every call
 * instead cost more than a short grading's LCS).
 */
let bytesA = new Uint8Array(0);
let bytesB = new Uint8Array(0);
let textCap = -1;
const encoder = new TextEncoder();

function instantiate(): WRatioExports {
  if (!wratioModule) throw new Error("the WebAssembly WRatio pipeline cannot be compiled here");
  const imports = { "fuzzy-wasm-process.as": { mapCodePoint: mapNonAscii } };
  instance = new WebAssembly.Instance(wratioModule, imports).exports as unknown as WRatioExports;
  textCap = -1;
  return instance;
}

function drop(): void {
  instance = null;
  bytesA = bytesB = new Uint8Array(0);
}

/** Asks the module for room for `units` UTF-16 code units and takes views of where they go. */
function place(k: WRatioExports, units: number): void {
  const at = k.input(units, 0);
  const size = k.bytesB() - at;
  bytesA = new Uint8Array(k.memory.buffer, at, size);
  bytesB = new Uint8Array(k.memory.buffer, at + size, size);
  textCap = size / 3;
}

/** Bytes of memory the current instance holds (0 when there is none): bounded by `RETAIN_LIMIT` between gradings. */
export function wasmMemoryBytes(): number {
  return instance ? instance.memory.buffer.byteLength : 0;
}

/** rapidfuzz.fuzz.WRatio(a, b, processor=default_process), 0..100, in WebAssembly. */
export function wasmWRatio(a: string, b: string): number {
  const k = instance ?? instantiate();
  if (a.length + b.length > textCap || bytesA.length === 0) place(k, a.length + b.length);
  let score: number;
  try {
    score = k.wratio(encoder.encodeInto(a, bytesA).written, encoder.encodeInto(b, bytesB).written);
  } catch (err) {
    drop(); // a trap (out of memory) leaves the module's tables dirty
    throw err;
  }
  if (bytesA.length === 0 && k.memory.buffer.byteLength > RETAIN_LIMIT) drop();
  return score;
}
