/**
 * fuzzy_match's WebAssembly module: a candidate build against the checked-in one (the named baseline), in one process
 * on the same pairs, per length bucket of the parity corpus. The two run in short alternating rounds; the ratio is the
 * median over rounds of the baseline's microseconds a pair over the candidate's in the same round (this machine's speed
 * drifts by up to 2x over seconds and moves both alike, so two separate runs measure the drift, not the change). The
 * µs columns are each side's best round. The scores of the two must be equal on every pair, or it stops.
 *
 *   npx tsx graders/metrics/fuzzy-kernel-build.ts --wasm /tmp/candidate.wasm   # after editing the .as.ts files
 *   npx tsx bench/graders/fuzzy-ab.ts /tmp/candidate.wasm [--quick]
 *
 * Above 1, the candidate is faster. With paired medians of 40 rounds, changes of 2-3% repeat from run to run; under
 * that is noise (2026-11-26).
 */
import { readFileSync } from "node:fs";
import { builtInWRatioModule, WRatioRunner } from "../../graders/metrics/fuzzy-kernel.ts";
import { buildCorpus, type Pair } from "../../test/graders/reference/corpus.ts";

const file = process.argv.slice(2).find((a) => !a.startsWith("--"));
if (!file || !builtInWRatioModule) {
  console.error("usage: npx tsx bench/graders/fuzzy-ab.ts CANDIDATE.wasm [--quick] (on Node, where WebAssembly runs)");
  process.exit(2);
}
const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 8 : 40;
const ROUND_MS = 40;

const baseline = new WRatioRunner(builtInWRatioModule);
const candidate = new WRatioRunner(new WebAssembly.Module(readFileSync(file)));
const corpus = JSON.parse(JSON.stringify(buildCorpus(600))) as Pair[];

/** Microseconds a pair of one round of `runner` over `pairs`, run for about `ROUND_MS`. */
function round(runner: WRatioRunner, pairs: Pair[]): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ROUND_MS) {
    for (const p of pairs) runner.score(p.input, p.reference);
    n += pairs.length;
  }
  return ((performance.now() - t0) * 1000) / n;
}

// Warm-up: V8 compiles a module's hot functions with its optimizing tier only after they ran a while.
for (let r = 0; r < 3; r++) {
  round(baseline, corpus);
  round(candidate, corpus);
}

console.log(`fuzzy_match WebAssembly: ${file} against the checked-in module — ${new Date().toISOString()}`);
console.log(
  `${"length".padEnd(10)} ${"pairs".padStart(6)} ${"baseline µs".padStart(12)} ${"candidate µs".padStart(13)} ${"ratio".padStart(7)}`,
);
for (const [label, lo, hi] of [
  ["< 50", 0, 50],
  ["50-199", 50, 200],
  ["200-999", 200, 1000],
  [">= 1000", 1000, Number.POSITIVE_INFINITY],
] as const) {
  const pairs = corpus.filter((p) => {
    const len = Math.max(p.input.length, p.reference.length);
    return len >= lo && len < hi;
  });
  for (const p of pairs) {
    const want = baseline.score(p.input, p.reference);
    const got = candidate.score(p.input, p.reference);
    if (got !== want) {
      console.error(`different scores: baseline ${want}, candidate ${got} on ${JSON.stringify(p).slice(0, 300)}`);
      process.exit(1);
    }
  }
  let base = Number.POSITIVE_INFINITY;
  let cand = Number.POSITIVE_INFINITY;
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = round(baseline, pairs);
    const c = round(candidate, pairs);
    base = Math.min(base, b);
    cand = Math.min(cand, c);
    ratios.push(b / c);
  }
  const ratio = ratios.sort((x, y) => x - y)[ratios.length >> 1]!;
  console.log(
    `${label.padEnd(10)} ${pairs.length.toString().padStart(6)} ${base.toFixed(3).padStart(12)} ${cand.toFixed(3).padStart(13)} ${`${ratio.toFixed(3)}x`.padStart(7)}`,
  );
}
