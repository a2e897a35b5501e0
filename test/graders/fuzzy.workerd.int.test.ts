/**
 * fuzzy_match inside workerd (Miniflare), where compiling WebAssembly from bytes is forbidden: a Worker that brings the
 * module compiled (as api/entry-worker.ts does with fuzzy-wratio.wasm) runs the WebAssembly pipeline; one that does not
 * falls back to the JS pipeline. Both give Node's scores.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
  let workers: Record<string, Miniflare> = {};
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fuzzy-workerd-"));
    const metrics = resolve(import.meta.dirname, "../../graders/metrics");
    const entry = (install: boolean) => `import { fuzzyMatch } from ${JSON.stringify(join(metrics, "fuzzy.ts"))};
import { installWRatioModule, wasmKernelAvailable } from ${JSON.stringify(join(metrics, "fuzzy-kernel.ts"))};
${install ? 'import wratio from "./fuzzy-wratio.wasm";\ninstallWRatioModule(wratio);' : ""}
export default {
  async fetch(request) {
    const pairs = await request.json();
    return Response.json({ wasm: wasmKernelAvailable(), scores: pairs.map(([a, b]) => fuzzyMatch(a, b)) });
  },
};
`;
    const bundle = async (install: boolean) => {
      const file = join(dir, `entry-${install}.ts`);
      await writeFile(file, entry(install));
      const out = await build({
        entryPoints: [file],
        bundle: true,
        format: "esm",
        write: false,
        logLevel: "silent",
        external: ["*.wasm"],
      });
      return out.outputFiles[0]!.text;
    };
    const wasm = await readFile(join(metrics, "fuzzy-wratio.wasm"));
    type Module = { type: "ESModule" | "CompiledWasm"; path: string; contents: string | Uint8Array };
    const worker = (modules: Module[]) => new Miniflare({ modulesRoot: dir, modules, compatibilityDate: "2025-01-01" });
    workers = {
      "with-module": worker([
        { type: "ESModule", path: join(dir, "with.js"), contents: await bundle(true) },
        { type: "CompiledWasm", path: join(dir, "fuzzy-wratio.wasm"), contents: wasm },
      ]),
      without: worker([{ type: "ESModule", path: join(dir, "without.js"), contents: await bundle(false) }]),
    };
  });

  afterAll(async () => {
    await Promise.all(Object.values(workers).map((w) => w.dispose()));
    await rm(dir, { recursive: true, force: true });
  });

  for (const [worker, wasm] of [
    ["with-module", true],
    ["without", false],
  ] as const) {
    it(`${worker}: runs the ${wasm ? "WebAssembly" : "JS"} pipeline and gives Node's scores`, async () => {
      const res = await workers[worker]!.dispatchFetch("http://localhost/", {
        method: "POST",
        body: JSON.stringify(PAIRS),
      });
      const body = (await res.json()) as { wasm: boolean; scores: number[] };
      expect(body.wasm).toBe(wasm);
      expect(body.scores).toEqual(PAIRS.map(([a, b]) => fuzzyMatch(a, b)));
    });
  }
});
