/**
 * Grader throughput, against named baselines, in one run on the same machine:
 *
 *  1. text_similarity: grades per CPU-second (CPU time, not wall time, so other load on the machine skews the ratio
 *     less) on the same pairs, both sides timed the same way: a loop of single calls of the metric function
 *     (`LOCAL_METRICS[metric](input, reference)`) vs a loop of single calls of the Python reference
 *     (rapidfuzz, sacrebleu, NLTK, torchmetrics' ROUGE), timed with time.process_time in a persistent Python process
 *     (test/graders/reference/metrics_ref.py --serve). The two sides run in short alternating rounds: this machine's
 *     speed swings by up to 2x over seconds, so one long run per side measured the machine more than the code. The
 *     rate columns are each side's best round; "ratio" is the median over rounds of the two sides' rates in adjacent
 *     rounds (`pairedRates`), which the swings move alike. The "gradeBatch" column is the same metric through
 *     `gradeBatch` (templates and result objects included), for reference. Corpora: the parity corpus (short, unicode
 *     and long texts), its short pairs alone, and for fuzzy_match the corpus split by the longer text's length, on the
 *     default pipeline (WebAssembly on Node) and on the JS one (workerd's). Goal: ratio >= 3. `--fuzzy` runs only the
 *     fuzzy_match rows.
 *     ROUGE's baseline is torchmetrics (rouge-score itself is not installable here), which builds tensors per call
 *     and so runs slower than rouge-score's plain Python: against a plain-Python version of rouge-score's algorithm
 *     our ROUGE measured 10-15x (rouge_l 14-200x) on these corpora (2026-11-25, --quick).
 *  2. python graders: grades/s of a small `grade()` through the warm bubblewrap pool via `gradeBatch`.
 *     Goal: >= 2000/s on 2 cores.
 *
 * Run: npx tsx bench/graders/run.ts [--quick] [--fuzzy]
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type GradeInput, gradeBatch, LOCAL_METRICS, type LocalMetric, sampleFromText } from "../../graders/index.ts";
import { useFuzzyKernel } from "../../graders/metrics/fuzzy.ts";
import { wasmKernelAvailable } from "../../graders/metrics/fuzzy-kernel.ts";
import { createPythonSandbox } from "../../graders/python/sandbox.node.ts";
import { buildCorpus, type Pair } from "../../test/graders/reference/corpus.ts";
import { hasVenv, VENV_PYTHON } from "../../test/graders/reference/python.ts";

const quick = process.argv.includes("--quick");
const fuzzyOnly = process.argv.includes("--fuzzy");
/** Alternating rounds per measurement, and the CPU-seconds of each round on each side. */
const ROUNDS = quick ? 3 : 10;
const ROUND_SECONDS = quick ? 0.2 : 0.3;

/** The Python reference's timing server (metrics_ref.py --serve): one process for the whole run. */
class PythonTimer {
  private readonly child = spawn(
    VENV_PYTHON,
    [join(import.meta.dirname, "../../test/graders/reference/metrics_ref.py"), "--serve"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  private readonly lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();

  setPairs(pairs: Pair[]): void {
    this.child.stdin.write(`${JSON.stringify({ pairs })}\n`);
  }

  /** Grades per CPU-second of the reference over the pairs, timed for about `seconds`. */
  async rate(metric: LocalMetric, seconds: number): Promise<number> {
    this.child.stdin.write(`${JSON.stringify({ metric, seconds })}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error("metrics_ref.py --serve exited");
    return Number(line.value);
  }

  close(): void {
    this.child.stdin.end();
  }
}

const python = hasVenv ? new PythonTimer() : null;

/** Grades per CPU-second of a loop of single calls of the metric function, timed for about `seconds`. */
function tsCallRate(metric: LocalMetric, pairs: Pair[], seconds: number): number {
  const fn = LOCAL_METRICS[metric];
  for (const p of pairs) fn(p.input, p.reference); // warm-up (JIT)
  let n = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < seconds * 1000) {
    for (const p of pairs) fn(p.input, p.reference);
    n += pairs.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return n / ((cpu.user + cpu.system) / 1e6);
}

/**
 * `ROUNDS` alternating rounds on the pairs (the Python side's pairs must be set): each side's best rate, and the
 * ratio, the median over rounds of the TS rate over the Python rate of the round just before it. This machine's speed
 * swings by up to 2x over a few seconds and moves both sides alike (measured: a loop of the same pairs, 0.3 s rounds,
 * 0.75-1.46 µs a pair on the TS side and 2.0-4.0 µs on the Python side), so two adjacent rounds see the same machine
 * and the ratio of bests compared whichever side had a lucky phase.
 */
async function pairedRates(
  metric: LocalMetric,
  pairs: Pair[],
): Promise<{ ts: number; py: number | null; ratio: number | null }> {
  let ts = 0;
  let py: number | null = null;
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const pyRound = python ? await python.rate(metric, ROUND_SECONDS) : null;
    const tsRound = tsCallRate(metric, pairs, ROUND_SECONDS);
    ts = Math.max(ts, tsRound);
    if (pyRound !== null) {
      py = Math.max(py ?? 0, pyRound);
      ratios.push(tsRound / pyRound);
    }
  }
  return { ts, py, ratio: ratios.length ? median(ratios) : null };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Grades per CPU-second through `gradeBatch`. */
async function tsBatchRate(metric: LocalMetric, pairs: Pair[]): Promise<number> {
  const grader = {
    type: "text_similarity",
    name: "bench",
    input: "{{sample.output_text}}",
    reference: "{{item.reference}}",
    evaluation_metric: metric,
  } as const;
  const inputs: GradeInput[] = pairs.map((p) => ({
    sample: sampleFromText(p.input),
    item: { reference: p.reference },
  }));
  await gradeBatch(grader, inputs, {}); // warm-up (JIT)
  let n = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < ROUND_SECONDS * 2000) {
    await gradeBatch(grader, inputs, {});
    n += inputs.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return n / ((cpu.user + cpu.system) / 1e6);
}

async function textSimilarity(label: string, pairs: Pair[]) {
  const chars = pairs.reduce((s, p) => s + p.input.length + p.reference.length, 0);
  console.log(
    `\ntext_similarity on ${label}: ${pairs.length} pairs, mean ${Math.round(chars / pairs.length / 2)} chars per text`,
  );
  const metrics = fuzzyOnly ? (["fuzzy_match"] as LocalMetric[]) : (Object.keys(LOCAL_METRICS) as LocalMetric[]);
  python?.setPairs(pairs);
  console.log(
    `${"metric".padEnd(12)} ${"ts /cpu-s".padStart(12)} ${"python /cpu-s".padStart(13)} ${"ratio".padStart(7)} ${"gradeBatch".padStart(10)}  baseline`,
  );
  const baseline: Record<LocalMetric, string> = {
    fuzzy_match: "rapidfuzz 3.14 WRatio (C++)",
    bleu: "sacrebleu 2.6 sentence_bleu",
    gleu: "nltk 3.10 sentence_gleu",
    meteor: "nltk 3.10 meteor_score",
    rouge_1: "torchmetrics 1.9 rouge_score",
    rouge_2: "torchmetrics 1.9 rouge_score",
    rouge_3: "torchmetrics 1.9 rouge_score",
    rouge_4: "torchmetrics 1.9 rouge_score",
    rouge_5: "torchmetrics 1.9 rouge_score",
    rouge_l: "torchmetrics 1.9 rouge_score",
  };
  for (const metric of metrics) {
    const { ts, py: ref, ratio: paired } = await pairedRates(metric, pairs);
    const batch = await tsBatchRate(metric, pairs);
    const ratio = paired ? `${paired.toFixed(2)}x` : "n/a";
    console.log(
      `${metric.padEnd(12)} ${Math.round(ts).toString().padStart(12)} ${(ref ? Math.round(ref).toString() : "-").padStart(13)} ${ratio.padStart(7)} ${Math.round(batch).toString().padStart(10)}  ${baseline[metric]}`,
    );
  }
}

/**
 * fuzzy_match per length of the longer text: where the ratio to rapidfuzz depends on length; each side's best of
 * alternating rounds. The "js pipeline" column is the same metric on the JS pipeline (what workerd runs, where
 * WebAssembly cannot be compiled from bytes); it is timed after every default row, so that switching pipelines cannot
 * slow the default's call sites.
 */
async function fuzzyByLength(pairs: Pair[]) {
  console.log(
    `\nfuzzy_match by the longer text's length (code units), same pairs both sides; pipeline: ${wasmKernelAvailable() ? "WebAssembly" : "JS"}`,
  );
  console.log(
    `${"length".padEnd(12)} ${"pairs".padStart(6)} ${"ts /cpu-s".padStart(12)} ${"python /cpu-s".padStart(13)} ${"ratio".padStart(7)} ${"js pipeline".padStart(11)} ${"ratio".padStart(7)}`,
  );
  const buckets: [string, number, number][] = [
    ["< 50", 0, 50],
    ["50-199", 50, 200],
    ["200-999", 200, 1000],
    [">= 1000", 1000, Number.POSITIVE_INFINITY],
  ];
  const rows = buckets
    .map(([label, lo, hi]) => {
      const subset = pairs.filter((p) => {
        const len = Math.max(p.input.length, p.reference.length);
        return len >= lo && len < hi;
      });
      return { label, subset, py: null as number | null, ts: 0, ratio: null as number | null, js: 0 };
    })
    .filter((row) => row.subset.length > 0);
  for (const row of rows) {
    python?.setPairs(row.subset);
    Object.assign(row, await pairedRates("fuzzy_match", row.subset));
  }
  useFuzzyKernel("js");
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) row.js = Math.max(row.js, tsCallRate("fuzzy_match", row.subset, ROUND_SECONDS));
  }
  useFuzzyKernel(wasmKernelAvailable() ? "wasm" : "js");
  const times = (x: number | null) => (x ? `${x.toFixed(2)}x` : "n/a");
  for (const { label, subset, py, ts, ratio, js } of rows) {
    // The JS pipeline's rounds are not paired with Python's: its ratio is the default's, scaled by their best rates.
    const jsRatio = ratio === null ? null : (ratio * js) / ts;
    console.log(
      `${label.padEnd(12)} ${subset.length.toString().padStart(6)} ${Math.round(ts).toString().padStart(12)} ${(py ? Math.round(py).toString() : "-").padStart(13)} ${times(ratio).padStart(7)} ${Math.round(js).toString().padStart(11)} ${times(jsRatio).padStart(7)}`,
    );
  }
}

async function pythonPool() {
  const workers = availableParallelism();
  const sandbox = createPythonSandbox({ workers });
  const grader = {
    type: "python",
    name: "bench",
    source:
      "def grade(sample, item):\n    return 1.0 if sample['output_text'].strip().lower() == item['answer'].lower() else 0.0\n",
  } as const;
  const total = quick ? 5_000 : 20_000;
  const inputs: GradeInput[] = Array.from({ length: total }, (_, i) => ({
    sample: sampleFromText(i % 3 ? "Paris" : "Lyon"),
    item: { answer: "paris" },
  }));
  const ctx = { python: sandbox };
  await gradeBatch(grader, inputs.slice(0, 2_000), ctx, { concurrency: { python: 256 } }); // start and warm the workers
  const t0 = performance.now();
  const results = await gradeBatch(grader, inputs, ctx, { concurrency: { python: 256 } });
  const seconds = (performance.now() - t0) / 1000;
  const wrong = results.filter((r, i) => r.reward !== (i % 3 ? 1 : 0)).length;
  console.log(
    `\npython graders: ${total} gradings through ${workers} warm ${sandbox.isolation} workers: ${Math.round(total / seconds)} grades/s (goal >= 2000/s; ${wrong} wrong)`,
  );
  await sandbox.close();
}

// The pairs reach the metric as they do in production and in the Python reference: parsed from JSON, so flat strings.
// (The generator's concatenations are cons strings, which V8 reads several times slower until a GC flattens them.)
const corpus = JSON.parse(JSON.stringify(buildCorpus(600))) as Pair[];
console.log(`graders bench — ${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}`);
await textSimilarity("the parity corpus", corpus);
await textSimilarity(
  "its short pairs (< 200 chars each)",
  corpus.filter((p) => p.input.length < 200 && p.reference.length < 200),
);
await fuzzyByLength(corpus);
if (!fuzzyOnly) await pythonPool();
python?.close();
