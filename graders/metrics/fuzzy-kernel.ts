/**
 * fuzzy_match's WebAssembly pipeline (fuzzy-wratio.as.ts: default_process and WRatio) and whether it runs here. Per
 * grading, JS only writes the two texts into the module's memory as UTF-16 and reads back one number; the module asks
 * JS (fuzzy-process.ts `mapNonAscii`) only for the processed form of a non-ASCII code point it has not seen before.
 *
 * The module is compiled from bytes embedded in fuzzy-wratio.wasm.ts (generated, see fuzzy-kernel-build.ts). workerd
 * forbids compiling WebAssembly from bytes at run time: there the compile throws, and the Worker's entry hands in the
 * same module as fuzzy-wratio.wasm, which wrangler uploads compiled (`installWRatioModule`). Without one, fuzzy.ts runs
 * its JS pipeline, which gives the same scores (test/graders/fuzzy-wasm.unit.test.ts).
 */
import { mapNonAscii } from "./fuzzy-process.ts";
import { FUZZY_WRATIO_WASM } from "./fuzzy-wratio.wasm.ts";

interface WRatioExports {
  memory: WebAssembly.Memory;
  input(maxA: number, maxB: number): number;
  unitsB(): number;
  wratio(unitsA: number, unitsB: number): number;
}

function compile(): WebAssembly.Module | null {
  try {
    const text = atob(FUZZY_WRATIO_WASM);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new WebAssembly.Module(bytes);
  } catch {
    return null; // workerd: no compiling from bytes (or a runtime without WebAssembly SIMD, which Node has since 16.4)
  }
}

/** The checked-in module, null where it cannot be compiled (bench/graders/fuzzy-ab.ts times candidates against it). */
export const builtInWRatioModule = compile();

/** Memory (bytes) past which an instance is dropped after its grading: WebAssembly memory never shrinks. */
const RETAIN_LIMIT = 64 << 20;

interface NodeBufferLike extends Uint8Array {
  ucs2Write(text: string, offset: number): number;
}
const NodeBuffer = (
  globalThis as unknown as { Buffer?: { from(b: ArrayBuffer, at: number, len: number): NodeBufferLike } }
).Buffer;

/**
 * A Buffer over memory[at, at + length) for `ucs2Write`, or null where there is none: no Buffer, or workerd's
 * nodejs_compat one, whose `ucs2Write` at an offset throws unless given a length (a probe finds out).
 */
function bufferView(memory: ArrayBuffer, at: number, length: number): NodeBufferLike | null {
  if (!NodeBuffer) return null;
  try {
    const view = NodeBuffer.from(memory, at, length);
    return view.ucs2Write("a", length - 2) === 2 ? view : null;
  } catch {
    return null;
  }
}

/** One instance of a compiled WRatio module at a time, and where the texts go in its memory. */
export class WRatioRunner {
  private instance: WRatioExports | null = null;
  /**
   * A view of the instance's memory where the texts go (A at unit 0, B at byte `offsetB`), and how many UTF-16 code
   * units each region holds. Re-taken whenever the memory grew: growing detaches the old buffer, and a detached view
   * has length 0 (reading `memory.buffer` on every call instead cost more than a short grading's LCS).
   */
  private unitView = new Uint16Array(0);
  /** The same bytes as a Buffer, where `ucs2Write` can fill them (`bufferView`). */
  private unitBuffer: NodeBufferLike | null = null;
  private offsetB = 0;
  private textCap = -1;

  constructor(private readonly module: WebAssembly.Module) {}

  /** rapidfuzz.fuzz.WRatio(a, b, processor=default_process), 0..100. */
  score(a: string, b: string): number {
    const k = this.instance ?? this.instantiate();
    if (a.length + b.length > this.textCap || this.unitView.length === 0) this.place(k, a.length + b.length);
    let score: number;
    try {
      score = k.wratio(this.write(a, 0), this.write(b, this.offsetB));
    } catch (err) {
      this.drop(); // a trap (out of memory) leaves the module's tables dirty
      throw err;
    }
    if (this.unitView.length === 0 && k.memory.buffer.byteLength > RETAIN_LIMIT) this.drop();
    return score;
  }

  /** Bytes of memory the current instance holds (0 when there is none): bounded by `RETAIN_LIMIT` between gradings. */
  memoryBytes(): number {
    return this.instance ? this.instance.memory.buffer.byteLength : 0;
  }

  /**
   * Writes a string's UTF-16 code units into the texts' region at byte `offset`; returns how many it wrote. On Node,
   * Buffer's `ucs2Write` (one copy in C++, about 75 ns a call whatever the length up to a few hundred characters,
   * against 140-240 ns for `TextEncoder.encodeInto` writing UTF-8); a `charCodeAt` loop (about 2.5 ns a character)
   * for texts under 32 characters, and elsewhere.
   */
  private write(text: string, offset: number): number {
    const n = text.length;
    if (n >= 32 && this.unitBuffer) return this.unitBuffer.ucs2Write(text, offset) >> 1;
    const view = this.unitView;
    const at = offset >> 1;
    for (let i = 0; i < n; i++) view[at + i] = text.charCodeAt(i);
    return n;
  }

  private instantiate(): WRatioExports {
    const imports = { "fuzzy-wasm-process.as": { mapCodePoint: mapNonAscii } };
    const instance = new WebAssembly.Instance(this.module, imports).exports as unknown as WRatioExports;
    this.instance = instance;
    this.textCap = -1;
    return instance;
  }

  private drop(): void {
    this.instance = null;
    this.unitView = new Uint16Array(0);
    this.unitBuffer = null;
  }

  /** Asks the module for room for `count` UTF-16 code units and takes a view of where they go. */
  private place(k: WRatioExports, count: number): void {
    const at = k.input(count, 0);
    this.offsetB = k.unitsB() - at;
    this.unitView = new Uint16Array(k.memory.buffer, at, this.offsetB);
    this.unitBuffer = bufferView(k.memory.buffer, at, 2 * this.offsetB);
    this.textCap = this.offsetB >> 1;
  }
}

let runner = builtInWRatioModule ? new WRatioRunner(builtInWRatioModule) : null;

/** Whether the WebAssembly pipeline runs here. */
export function wasmKernelAvailable(): boolean {
  return runner !== null;
}

/**
 * Gives the pipeline a module the platform compiled: workerd forbids compiling WebAssembly from bytes but runs a module
 * uploaded with the Worker (api/entry-worker.ts imports fuzzy-wratio.wasm, which wrangler uploads compiled). Where the
 * built-in module compiled, nothing changes.
 */
export function installWRatioModule(module: WebAssembly.Module): void {
  runner ??= new WRatioRunner(module);
}

/** Bytes of memory the current instance holds (0 when there is none): bounded by `RETAIN_LIMIT` between gradings. */
export function wasmMemoryBytes(): number {
  return runner ? runner.memoryBytes() : 0;
}

/** rapidfuzz.fuzz.WRatio(a, b, processor=default_process), 0..100, in WebAssembly. */
export function wasmWRatio(a: string, b: string): number {
  if (!runner) throw new Error("the WebAssembly WRatio pipeline cannot be compiled here");
  return runner.score(a, b);
}
