/**
 * Grader throughput, against named baselines, in one run on the same machine:
 *
 *  1. text_similarity: grades per CPU-second (CPU time, not wall time, so other load on the machine does not skew the
 *     ratio) of each metric through `gradeBatch` (templates and result objects included) vs the
 *     Python reference library called directly in a loop (rapidfuzz, sacrebleu, NLTK, the rouge-score algorithm;
 *     test/graders/reference/metrics_ref.py --bench) on the same pairs: the parity corpus (short, unicode and long
 *     texts), and its short pairs alone. Goal: ratio >= 3.
 *  2. python graders: grades/s of a small `grade()` through the warm bubblewrap pool via `gradeBatch`.
 *     Goal: >= 2000/s on 2 cores.
 *
 * Run: npx tsx bench/graders/run.ts [--quick]
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { type GradeInput, gradeBatch, LOCAL_METRICS, type LocalMetric, sampleFromText } from "../../graders/index.ts";
import { createPythonSandbox } from "../../graders/python/sandbox.node.ts";
import { buildCorpus, type Pair } from "../../test/graders/reference/corpus.ts";
import { hasVenv, VENV_PYTHON } from "../../test/graders/reference/python.ts";

const quick = process.argv.includes("--quick");
const MIN_SECONDS = quick ? 0.5 : 2;

function pythonRates(pairs: Pair[], passes: number): Record<LocalMetric, number> | null {
  if (!hasVenv) return null;
  const script = join(import.meta.dirname, "../../test/graders/reference/metrics_ref.py");
  const res = spawnSync(VENV_PYTHON, [script, "--bench", String(passes)], {
    input: JSON.stringify(pairs),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(res.stderr);
  return JSON.parse(res.stdout) as Record<LocalMetric, number>;
}

async function tsRate(metric: LocalMetric, pairs: Pair[]): Promise<number> {
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
  while (performance.now() - t0 < MIN_SECONDS * 1000) {
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
  const py = pythonRates(pairs, quick ? 1 : 3);
  console.log(
    `${"metric".padEnd(12)} ${"ts /cpu-s".padStart(12)} ${"python /cpu-s".padStart(13)} ${"ratio".padStart(7)}  baseline`,
  );
  const baseline: Record<LocalMetric, string> = {
    fuzzy_match: "rapidfuzz 3.14 WRatio (C++)",
    bleu: "sacrebleu 2.6 sentence_bleu",
    gleu: "nltk 3.10 sentence_gleu",
    meteor: "nltk 3.10 meteor_score",
    rouge_1: "rouge-score algorithm (py)",
    rouge_2: "rouge-score algorithm (py)",
    rouge_3: "rouge-score algorithm (py)",
    rouge_4: "rouge-score algorithm (py)",
    rouge_5: "rouge-score algorithm (py)",
    rouge_l: "rouge-score algorithm (py)",
  };
  for (const metric of Object.keys(LOCAL_METRICS) as LocalMetric[]) {
    const ts = await tsRate(metric, pairs);
    const ref = py?.[metric];
    const ratio = ref ? `${(ts / ref).toFixed(2)}x` : "n/a";
    console.log(
      `${metric.padEnd(12)} ${Math.round(ts).toString().padStart(12)} ${(ref ? Math.round(ref).toString() : "-").padStart(13)} ${ratio.padStart(7)}  ${baseline[metric]}`,
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

const corpus = buildCorpus(600);
console.log(`graders bench — ${new Date().toISOString()}, ${availableParallelism()} cores, Node ${process.version}`);
await textSimilarity("the parity corpus", corpus);
await textSimilarity(
  "its short pairs (< 200 chars each)",
  corpus.filter((p) => p.input.length < 200 && p.reference.length < 200),
);
await pythonPool();
