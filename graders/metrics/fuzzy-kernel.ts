/**
 * fuzzy_match's WebAssembly pipeline (fuzzy-wratio.as.ts: WRatio from the processed code points on) and whether it
 * runs here. Per grading, JS only writes the two texts' processed code points into the module's memory
 * (fuzzy-process.ts `processInto`) and reads back one number.
 *
 * The module is compiled from bytes embedded in fuzzy-wratio.wasm.ts (generated, see fuzzy-kernel-build.ts). workerd
 * forbids compiling WebAssembly from bytes at run time: there the compile throws and fuzzy.ts runs its JS pipeline,
 * which gives the same scores (test/graders/fuzzy-wasm.unit.test.ts).
 */
import { processedWide, processInto } from "./fuzzy-process.ts";
import { FUZZY_WRATIO_WASM } from "./fuzzy-wratio.wasm.ts";

interface WRatioExports {
  memory: WebAssembly.Memory;
  input(maxA: number, maxB: number): number;
  wratio(lenA: number, lenB: number, wideA: boolean, wideB: boolean): number;
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

/**
 * Read by bench/graders/run.ts's header line from the time when only patterns of this length or longer went to
 * WebAssembly; now the whole grading does.
 */
export const WASM_FROM = 0;

/** Memory (bytes) past which an instance is dropped after its grading: WebAssembly memory never shrinks. */
const RETAIN_LIMIT = 64 << 20;

let instance: WRatioExports | null = null;
/** A view of the instance's memory, re-taken whenever the memory grew (growing detaches the old buffer: length 0;
 * reading `memory.buffer` on every call instead cost more than a short grading's LCS). */
let heap = new Int32Array(0);
/** Where the texts go and how many code units fit there (`input` moves them only when asked for more). */
let textAt = 0;
let textCap = -1;

function instantiate(): WRatioExports {
  if (!wratioModule) throw new Error("the WebAssembly WRatio pipeline cannot be compiled here");
  instance = new WebAssembly.Instance(wratioModule).exports as unknown as WRatioExports;
  heap = new Int32Array(instance.memory.buffer);
  textCap = -1;
  return instance;
}

function drop(): void {
  instance = null;
  heap = new Int32Array(0);
}

/** Bytes of memory the current instance holds (0 when there is none): bounded by `RETAIN_LIMIT` between gradings. */
export function wasmMemoryBytes(): number {
  return instance ? instance.memory.buffer.byteLength : 0;
}

/** rapidfuzz.fuzz.WRatio(a, b, processor=default_process), 0..100, in WebAssembly. */
export function wasmWRatio(a: string, b: string): number {
  const k = instance ?? instantiate();
  if (a.length + b.length > textCap) {
    textAt = k.input(a.length, b.length) >> 2;
    textCap = a.length + b.length;
    if (heap.length === 0) heap = new Int32Array(k.memory.buffer);
  }
  const lenA = processInto(a, heap, textAt);
  const wideA = processedWide();
  const lenB = processInto(b, heap, textAt + lenA);
  let score: number;
  try {
    score = k.wratio(lenA, lenB, wideA, processedWide());
  } catch (err) {
    drop(); // a trap (out of memory) leaves the module's tables dirty
    throw err;
  }
  if (heap.length === 0) heap = new Int32Array(k.memory.buffer);
  if (heap.byteLength > RETAIN_LIMIT) drop();
  return score;
}
