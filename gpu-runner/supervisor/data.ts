import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

/**
 * Datasets are JSONL files read as streams: one pass records where each non-blank line starts (8 bytes per
 * line, never the text), then a step reads only its own lines. The order of an epoch is a pure function of
 * (seed, epoch), so a resumed run finds its exact place from the step number alone.
 */

export type LineIndex = {
  path: string;
  /** Byte offset and length of each non-blank line. */
  offsets: number[];
  lengths: number[];
  /** 1-based line number in the file of each indexed line. */
  lineNumbers: number[];
  /** sha256 of the file's bytes: a resumed run refuses a file that changed under it. */
  sha256: string;
};

/** Streams a JSONL file once and indexes its non-blank lines. */
export async function indexJsonl(path: string): Promise<LineIndex> {
  const offsets: number[] = [];
  const lengths: number[] = [];
  const lineNumbers: number[] = [];
  const hash = createHash("sha256");
  let pos = 0;
  let lineStart = 0;
  let lineNo = 1;
  let blank = true;
  const finish = (end: number) => {
    if (!blank) {
      offsets.push(lineStart);
      lengths.push(end - lineStart);
      lineNumbers.push(lineNo);
    }
  };
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0a) {
        finish(pos + i);
        lineStart = pos + i + 1;
        lineNo++;
        blank = true;
      } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
        blank = false;
      }
    }
    pos += chunk.length;
  }
  finish(pos);
  return { path, offsets, lengths, lineNumbers, sha256: hash.digest("hex") };
}

/** Reads and parses the given indexed lines (by position in the index), naming the line of a bad one. */
export async function readLines(index: LineIndex, positions: readonly number[]): Promise<Record<string, unknown>[]> {
  const fh = await open(index.path, "r");
  try {
    const out: Record<string, unknown>[] = [];
    for (const p of positions) {
      const len = index.lengths[p]!;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, index.offsets[p]!);
      const text = buf.toString("utf8");
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new Error(`${index.path} line ${index.lineNumbers[p]}: not valid JSON (${(err as Error).message})`);
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${index.path} line ${index.lineNumbers[p]}: expected a JSON object`);
      }
      out.push(value as Record<string, unknown>);
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; the same seed gives the same stream everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one 32-bit seed (so (seed, epoch) and (seed, step) pairs do not collide). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

/** The order of the items of one epoch: a Fisher-Yates shuffle seeded from (seed, epoch). */
export function epochOrder(nItems: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: nItems }, (_, i) => i);
  const rand = mulberry32(mixSeed(seed, epoch, 0x5eed));
  for (let i = nItems - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export type BatchPlan = {
  nItems: number;
  batchSize: number;
  stepsPerEpoch: number;
  totalSteps: number;
};

/**
 * Steps per epoch = ceil(nItems / batchSize): every item is used once per epoch; the last batch of an
 * epoch may be smaller. Throws when the file has no items.
 */
export function batchPlan(nItems: number, batchSize: number, nEpochs: number): BatchPlan {
  if (nItems === 0) throw new Error("the training file has no examples");
  const stepsPerEpoch = Math.ceil(nItems / batchSize);
  return { nItems, batchSize, stepsPerEpoch, totalSteps: stepsPerEpoch * nEpochs };
}

/** Which items (positions in the index) step `step` (1-based) trains on, and in which epoch (0-based). */
export function batchForStep(plan: BatchPlan, seed: number, step: number): { epoch: number; positions: number[] } {
  if (step < 1 || step > plan.totalSteps) throw new Error(`step ${step} is outside 1..${plan.totalSteps}`);
  const epoch = Math.floor((step - 1) / plan.stepsPerEpoch);
  const within = (step - 1) % plan.stepsPerEpoch;
  const order = epochOrder(plan.nItems, seed, epoch);
  return { epoch, positions: order.slice(within * plan.batchSize, (within + 1) * plan.batchSize) };
}

/** Caches one epoch's order so a step does not reshuffle the whole dataset. */
export class BatchSource {
  private cachedEpoch = -1;
  private cachedOrder: number[] = [];
  constructor(
    readonly index: LineIndex,
    readonly plan: BatchPlan,
    readonly seed: number,
  ) {}

  async batch(step: number): Promise<{ epoch: number; lineNumbers: number[]; items: Record<string, unknown>[] }> {
    if (step < 1 || step > this.plan.totalSteps) throw new Error(`step ${step} is outside 1..${this.plan.totalSteps}`);
    const epoch = Math.floor((step - 1) / this.plan.stepsPerEpoch);
    if (epoch !== this.cachedEpoch) {
      this.cachedOrder = epochOrder(this.plan.nItems, this.seed, epoch);
      this.cachedEpoch = epoch;
    }
    const within = (step - 1) % this.plan.stepsPerEpoch;
    const positions = this.cachedOrder.slice(within * this.plan.batchSize, (within + 1) * this.plan.batchSize);
    const items = await readLines(this.index, positions);
    return { epoch, lineNumbers: positions.map((p) => this.index.lineNumbers[p]!), items };
  }
}
