import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  BatchSource,
  batchForStep,
  batchPlan,
  epochOrder,
  indexJsonl,
  readLines,
} from "../../gpu-runner/supervisor/data.ts";

async function jsonl(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "sv-data-"));
  const file = path.join(dir, "d.jsonl");
  await writeFile(file, text);
  return file;
}

describe("data order", () => {
  it("is a pure function of (seed, epoch): a permutation, different per epoch and per seed", () => {
    const a = epochOrder(100, 7, 0);
    expect(epochOrder(100, 7, 0)).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(epochOrder(100, 7, 1)).not.toEqual(a);
    expect(epochOrder(100, 8, 0)).not.toEqual(a);
  });

  it("covers every item once per epoch, with a smaller last batch", () => {
    const plan = batchPlan(10, 4, 2);
    expect(plan).toEqual({ nItems: 10, batchSize: 4, stepsPerEpoch: 3, totalSteps: 6 });
    const epoch0 = [1, 2, 3].flatMap((s) => batchForStep(plan, 3, s).positions);
    expect(epoch0.sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(batchForStep(plan, 3, 3).positions).toHaveLength(2);
    expect(batchForStep(plan, 3, 4).epoch).toBe(1);
    expect(() => batchForStep(plan, 3, 7)).toThrow(/outside/);
    expect(() => batchPlan(0, 4, 1)).toThrow(/no examples/);
  });
});

describe("JSONL index", () => {
  it("indexes non-blank lines with their line numbers and reads them back by position", async () => {
    const file = await jsonl('{"a":1}\n\n  \n{"a":2}\r\n{"a":"é"}');
    const idx = await indexJsonl(file);
    expect(idx.lineNumbers).toEqual([1, 4, 5]);
    expect(await readLines(idx, [2, 0])).toEqual([{ a: "é" }, { a: 1 }]);
    expect(idx.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names the line of a bad row", async () => {
    const idx = await indexJsonl(await jsonl('{"a":1}\n{oops\n[1]\n'));
    await expect(readLines(idx, [1])).rejects.toThrow(/line 2: not valid JSON/);
    await expect(readLines(idx, [2])).rejects.toThrow(/line 3: expected a JSON object/);
  });

  it("BatchSource yields the planned batches as line numbers and items", async () => {
    const file = await jsonl(Array.from({ length: 9 }, (_, i) => JSON.stringify({ i })).join("\n"));
    const idx = await indexJsonl(file);
    const plan = batchPlan(9, 4, 1);
    const src = new BatchSource(idx, plan, 11);
    const b = await src.batch(2);
    expect(b.lineNumbers).toEqual(batchForStep(plan, 11, 2).positions.map((p) => p + 1));
    expect(b.items.map((x) => x.i)).toEqual(b.lineNumbers.map((l) => l - 1));
  });
});
