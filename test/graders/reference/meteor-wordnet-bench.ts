/**
 * meteor with WordNet vs NLTK's meteor_score with the same WordNet (wordnet_ref.py --bench): grades per CPU-second,
 * both warm (after one pass over the pairs, as a long-running grader is), on the parity corpus and on the synonym
 * corpus; plus the reader's cost: time to open, first lookup (reads the index files), and memory after the runs.
 * bench/graders/run.ts times meteor without WordNet (its stage-free score); this is the WordNet-stage counterpart.
 *
 * Run: npx tsx test/graders/reference/meteor-wordnet-bench.ts [WORDNET_DIR]
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { meteor } from "../../../graders/metrics/meteor.ts";
import { DEFAULT_WORDNET_DIR, wordNetFiles } from "../../../graders/metrics/wordnet/files.node.ts";
import { WordNet } from "../../../graders/metrics/wordnet/wordnet.ts";
import { buildCorpus, type Pair } from "./corpus.ts";
import { VENV_PYTHON } from "./python.ts";
import { buildSynonymCorpus } from "./synonym-corpus.ts";

const dir = process.argv[2] ?? DEFAULT_WORDNET_DIR;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

const rss0 = process.memoryUsage();
let t = performance.now();
const files = wordNetFiles(dir);
const wordnet = new WordNet(files);
console.log(`open: ${(performance.now() - t).toFixed(2)} ms`);
t = performance.now();
wordnet.synonyms("dog");
console.log(`first lookup (reads the index files): ${(performance.now() - t).toFixed(1)} ms`);

function tsRate(pairs: Pair[]): number {
  for (const p of pairs) meteor(p.input, p.reference, wordnet); // warm-up: JIT and the word cache
  let n = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < 2000) {
    for (const p of pairs) meteor(p.input, p.reference, wordnet);
    n += pairs.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return n / ((cpu.user + cpu.system) / 1e6);
}

function coldPassMs(pairs: Pair[]): number {
  const fresh = new WordNet(files);
  const t0 = performance.now();
  for (const p of pairs) meteor(p.input, p.reference, fresh);
  return performance.now() - t0;
}

function pyRate(pairs: Pair[]): number {
  const script = join(import.meta.dirname, "wordnet_ref.py");
  const res = spawnSync(VENV_PYTHON, [script, dir, "--bench", "3"], {
    input: JSON.stringify(pairs),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(res.stderr);
  return JSON.parse(res.stdout) as number;
}

const corpora: [string, Pair[]][] = [
  ["parity corpus (buildCorpus(600))", buildCorpus(600)],
  ["synonym corpus (buildSynonymCorpus(400))", buildSynonymCorpus(wordnet, 400)],
];
for (const [label, pairs] of corpora) {
  const cold = coldPassMs(pairs);
  const ts = tsRate(pairs);
  const py = pyRate(pairs);
  console.log(
    `${label}: ${pairs.length} pairs; ts ${Math.round(ts)}/cpu-s, nltk ${Math.round(py)}/cpu-s, ratio ${(ts / py).toFixed(2)}x; first pass with an empty cache ${cold.toFixed(0)} ms`,
  );
}
const rss1 = process.memoryUsage();
console.log(
  `memory after the runs: rss +${mb(rss1.rss - rss0.rss)}, heap +${mb(rss1.heapUsed - rss0.heapUsed)}, external +${mb(rss1.external - rss0.external)} (index files are held as Buffers)`,
);
files.close();
