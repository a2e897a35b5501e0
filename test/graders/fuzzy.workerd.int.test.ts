/**
 * fuzzy_match inside workerd (Miniflare), where compiling WebAssembly from bytes is forbidden: the module still loads,
 * falls back to the JS pipeline, and gives Node's scores (the WebAssembly pipeline's).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzyMatch } from "../../graders/metrics/fuzzy.ts";

const PAIRS: [string, string][] = [
  ["The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."],
  ["new york mets", "new york mets vs atlanta braves"],
  ["日本語 the hopeful airliner", "日本語 formative hopeful airliner"],
  [`${"x".repeat(300)} needle in a haystack`, `${"y ".repeat(400)}needle in a haystack${" z".repeat(200)}`],
];

describe("fuzzy_match in workerd", () => {
  let mf: Miniflare;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fuzzy-workerd-"));
    const entry = join(dir, "entry.ts");
    const metrics = resolve(import.meta.dirname, "../../graders/metrics");
    await writeFile(
      entry,
      `import { fuzzyMatch } from ${JSON.stringify(join(metrics, "fuzzy.ts"))};
import { wasmKernelAvailable } from ${JSON.stringify(join(metrics, "fuzzy-kernel.ts"))};
export default {
  async fetch(request) {
    const pairs = await request.json();
    return Response.json({ wasm: wasmKernelAvailable, scores: pairs.map(([a, b]) => fuzzyMatch(a, b)) });
  },
};
`,
    );
    const bundle = await build({ entryPoints: [entry], bundle: true, format: "esm", write: false, logLevel: "silent" });
    mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: "2025-01-01" });
  });

  afterAll(async () => {
    await mf?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("uses the JS pipeline and gives Node's scores", async () => {
    const res = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(PAIRS) });
    const body = (await res.json()) as { wasm: boolean; scores: number[] };
    expect(body.wasm).toBe(false);
    expect(body.scores).toEqual(PAIRS.map(([a, b]) => fuzzyMatch(a, b)));
  });
});
