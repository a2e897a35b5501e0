/**
 * fuzzy_match's LCS kernel in WebAssembly (fuzzy-kernel.as.ts, 64-bit words where the JS `Pattern` has 30-bit ones),
 * behind the same interface as fuzzy-indel.ts's `Pattern`, and the choice between the two, made once at load.
 *
 * The module is compiled from bytes embedded in fuzzy-kernel.wasm.ts (generated, see fuzzy-kernel-build.ts). workerd
 * forbids compiling WebAssembly from bytes at run time: there the compile throws and the JS kernel is used. Both give
 * the same LCS (test/graders/fuzzy-kernel.unit.test.ts).
 */
import { Pattern } from "./fuzzy-indel.ts";
import { FUZZY_KERNEL_WASM } from "./fuzzy-kernel.wasm.ts";

/** What fuzzy.ts needs of an LCS kernel (see `Pattern` for each method's contract). */
export interface LcsPattern {
  readonly len: number;
  build(seq: Int32Array, from: number, to: number, alpha: number, reverse?: boolean): void;
  has(id: number): boolean;
  lcs(text: Int32Array, from: number, to: number, minLcs?: number): number;
  sweep(text: Int32Array, start: number, dir: 1 | -1, count: number): Int32Array;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  layout(rowOf: number, pat: number, state: number, masks: number): void;
  place(text: number, out: number): void;
  clear(): void;
  assign(n: number): number;
  fill(rows: number): void;
  lcs(from: number, to: number, minLcs: number): number;
  sweep(start: number, dir: number, count: number): void;
}

function compile(): WebAssembly.Module | null {
  try {
    const text = atob(FUZZY_KERNEL_WASM);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new WebAssembly.Module(bytes);
  } catch {
    return null; // workerd: no compiling from bytes
  }
}

const kernelModule = compile();

/** Whether the WebAssembly kernel runs here. */
export const wasmKernelAvailable = kernelModule !== null;

const PAGE = 65536;

/** The WebAssembly kernel; its regions grow by doubling, the text's without disturbing the pattern. */
export class WasmPattern implements LcsPattern {
  len = 0;
  private readonly k: KernelExports;
  private heap: Int32Array;
  private alphaCap = 0;
  private patCap = 0;
  private masksCap = 0;
  private textCap = 0;
  private rowOfAt = 0;
  private patAt = 0;
  private masksAt = 0;
  private textEnd = 0; // end of the pattern's regions: the output and the text start here
  private outAt = 0;
  private textAt = 0;

  constructor() {
    if (!kernelModule) throw new Error("the WebAssembly kernel cannot be compiled here");
    this.k = new WebAssembly.Instance(kernelModule).exports as unknown as KernelExports;
    this.heap = new Int32Array(this.k.memory.buffer);
    this.relayout(256, 64, 8 * 256, 256);
  }

  private relayout(alpha: number, patLen: number, masksBytes: number, textLen: number): void {
    this.alphaCap = Math.max(alpha, this.alphaCap * 2);
    this.patCap = Math.max(patLen, this.patCap * 2);
    this.masksCap = Math.max(masksBytes, this.masksCap * 2);
    const words = Math.ceil(this.patCap / 64) + 1;
    this.rowOfAt = 0;
    this.patAt = this.alphaCap * 4;
    const stateAt = align8(this.patAt + this.patCap * 4);
    this.masksAt = stateAt + words * 8;
    this.textEnd = this.masksAt + this.masksCap;
    this.growText(textLen, true);
    this.heap.fill(0, 0, this.alphaCap);
    this.k.layout(this.rowOfAt, this.patAt, stateAt, this.masksAt);
  }

  private growText(textLen: number, force = false): void {
    if (!force && textLen <= this.textCap) return;
    this.textCap = Math.max(textLen, this.textCap * 2);
    this.outAt = this.textEnd;
    this.textAt = this.outAt + (this.textCap + 1) * 4;
    const bytes = this.textAt + this.textCap * 4;
    const memory = this.k.memory;
    if (memory.buffer.byteLength < bytes) {
      memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
      this.heap = new Int32Array(memory.buffer);
    }
    this.k.place(this.textAt, this.outAt);
  }

  build(seq: Int32Array, from: number, to: number, alpha: number, reverse = false): void {
    const n = to - from;
    if (alpha > this.alphaCap || n > this.patCap) this.relayout(alpha, n, this.masksCap, this.textCap);
    else this.k.clear();
    const heap = this.heap;
    const at = this.patAt >> 2;
    if (reverse) for (let i = 0; i < n; i++) heap[at + i] = seq[to - 1 - i]!;
    else for (let i = 0; i < n; i++) heap[at + i] = seq[from + i]!;
    const rows = this.k.assign(n);
    const masksBytes = rows * (Math.ceil(n / 64) || 1) * 8;
    if (masksBytes > this.masksCap) {
      // The masks end where the text's regions start: moving those keeps the pattern.
      this.masksCap = Math.max(masksBytes, this.masksCap * 2);
      this.textEnd = this.masksAt + this.masksCap;
      this.growText(this.textCap, true);
    }
    this.k.fill(rows);
    this.len = n;
  }

  has(id: number): boolean {
    return this.heap[(this.rowOfAt >> 2) + id] !== 0;
  }

  lcs(text: Int32Array, from: number, to: number, minLcs = 0): number {
    const n = to - from;
    if (this.len === 0 || n <= 0) return 0;
    this.growText(n);
    const heap = this.heap;
    const at = this.textAt >> 2;
    for (let i = 0; i < n; i++) heap[at + i] = text[from + i]!;
    return this.k.lcs(0, n, minLcs);
  }

  sweep(text: Int32Array, start: number, dir: 1 | -1, count: number): Int32Array {
    this.growText(count);
    const heap = this.heap;
    const at = this.textAt >> 2;
    for (let k = 0; k < count; k++) heap[at + k] = text[start + k * dir]!;
    this.k.sweep(0, 1, count);
    return heap.subarray(this.outAt >> 2, (this.outAt >> 2) + count + 1);
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Shortest pattern given to WebAssembly: up to 30 ids the JS kernel's one 30-bit word needs no copying into the
 * module's memory; past that WebAssembly's 64-bit words take half the JS kernel's words or fewer.
 */
export const WASM_FROM = 31;

/** The JS kernel for short patterns, the WebAssembly one for the others. */
export class HybridPattern implements LcsPattern {
  len = 0;
  private readonly js = new Pattern();
  private readonly wasm = new WasmPattern();
  private useWasm = false;

  build(seq: Int32Array, from: number, to: number, alpha: number, reverse = false): void {
    this.len = to - from;
    this.useWasm = this.len >= WASM_FROM;
    if (this.useWasm) this.wasm.build(seq, from, to, alpha, reverse);
    else this.js.build(seq, from, to, alpha, reverse);
  }

  has(id: number): boolean {
    return this.useWasm ? this.wasm.has(id) : this.js.has(id);
  }

  lcs(text: Int32Array, from: number, to: number, minLcs = 0): number {
    return this.useWasm ? this.wasm.lcs(text, from, to, minLcs) : this.js.lcs(text, from, to, minLcs);
  }

  sweep(text: Int32Array, start: number, dir: 1 | -1, count: number): Int32Array {
    return this.useWasm ? this.wasm.sweep(text, start, dir, count) : this.js.sweep(text, start, dir, count);
  }
}

/** A new LCS kernel: WebAssembly (for patterns past `WASM_FROM`) where it can be compiled, else the JS one. */
export function createPattern(kind: "wasm" | "js" = wasmKernelAvailable ? "wasm" : "js"): LcsPattern {
  return kind === "wasm" ? new HybridPattern() : new Pattern();
}
