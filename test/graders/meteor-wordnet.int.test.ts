/**
 * METEOR's WordNet synonym stage against NLTK's real `meteor_score` and `wordnet.synsets`, both reading the same
 * WordNet 3.0 files (Debian's wordnet-base at /usr/share/wordnet, as scripts/install.sh installs it), to 1e-6.
 * The Python side is test/graders/reference/wordnet_ref.py.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gradeBatch, sampleFromText } from "../../graders/index.ts";
import { meteor } from "../../graders/metrics/meteor.ts";
import { DEFAULT_WORDNET_DIR, wordNetFiles } from "../../graders/metrics/wordnet/files.node.ts";
import { POS_FILE, POS_LIST, WordNet } from "../../graders/metrics/wordnet/wordnet.ts";
import { createNodeGraderContext } from "../../graders/node.ts";
import { buildCorpus, type Pair } from "./reference/corpus.ts";
import { hasVenv, VENV_PYTHON } from "./reference/python.ts";
import { buildSynonymCorpus } from "./reference/synonym-corpus.ts";

const DIR = DEFAULT_WORDNET_DIR;
const hasWordNet = existsSync(DIR);
if (!hasWordNet)
  console.warn(`skipping METEOR WordNet parity: ${DIR} is missing (scripts/install.sh installs wordnet-base)`);

const CONTEXT_PAIR = { input: "the quick brown dog", reference: "the fast brown canine" };

/** NLTK's synsets for `words` and meteor_score for `pairs`, in one process (NLTK's WordNet takes seconds to open). */
function nltk(words: string[], pairs: Pair[]): { synsets: [string, number, string[]][][]; meteor: number[] } {
  const input = { words, pairs };
  const res = spawnSync(VENV_PYTHON, [join(import.meta.dirname, "reference/wordnet_ref.py"), DIR, "--check"], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`wordnet_ref.py failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

function synsetWords(): string[] {
  const exceptionForms = POS_LIST.flatMap((pos) =>
    readFileSync(join(DIR, `${POS_FILE[pos]}.exc`), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ")[0]!),
  );
  const corpusWords = buildCorpus(300).flatMap((p) => p.reference.split(/\s+/));
  const stems = ["dog", "run", "happy", "box", "church", "woman", "fly", "bus", "make", "big", "die", "see", "agree"];
  const inflected = stems.flatMap((w) => ["s", "es", "ed", "ing", "er", "est", "ies", "men", "ves"].map((s) => w + s));
  const odd = [
    "",
    "s",
    "es",
    "ing",
    "Dogs",
    "DOG",
    "hot_dog",
    "dog-iron",
    "café",
    "İstanbul",
    "galore",
    "a(p)",
    "ΟΔΟΣ",
  ];
  return [...new Set([...exceptionForms, ...corpusWords, ...inflected, ...odd])];
}

describe.skipIf(!hasWordNet || !hasVenv)("meteor with WordNet, against NLTK with the same WordNet", () => {
  const files = hasWordNet ? wordNetFiles(DIR) : null;
  const wordnet = files ? new WordNet(files) : null;
  const words = hasWordNet ? synsetWords() : [];
  const pairs = wordnet ? [CONTEXT_PAIR, ...buildSynonymCorpus(wordnet, 400), ...buildCorpus(300)] : [];
  let expected: ReturnType<typeof nltk>;
  beforeAll(() => {
    expected = nltk(words, pairs);
  });
  afterAll(() => files?.close());

  it("synsets(word) and lemma_names() equal NLTK's, in order, for inflections, exception forms and oddities", () => {
    const want = expected.synsets;
    const diffs: string[] = [];
    words.forEach((word, i) => {
      const got = wordnet!.synsets(word).map((s) => [s.pos, s.offset, s.lemmaNames]);
      if (JSON.stringify(got) !== JSON.stringify(want[i])) diffs.push(`${word}: got ${JSON.stringify(got)}`);
    });
    expect(diffs.slice(0, 5)).toEqual([]);
    expect(want.filter((s) => s.length > 0).length).toBeGreaterThan(5000);
  });

  it("meteor equals nltk meteor_score to 1e-6, and the synonym stage decides many of the pairs", () => {
    const want = expected.meteor;
    const mismatches: string[] = [];
    let changed = 0;
    pairs.forEach((p, i) => {
      const got = meteor(p.input, p.reference, wordnet!);
      if (!(Math.abs(got - want[i]!) <= 1e-6)) {
        mismatches.push(`#${i} got ${got} want ${want[i]}: ${JSON.stringify(p).slice(0, 300)}`);
      }
      if (Math.abs(meteor(p.input, p.reference) - want[i]!) > 1e-6) changed++;
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(changed).toBeGreaterThan(100);
  });

  it("the Node grader context hands WordNet to text_similarity meteor", async () => {
    const ctx = await createNodeGraderContext({ RFT_GRADER_WORDNET_DIR: DIR });
    const off = await createNodeGraderContext({ RFT_GRADER_WORDNET_DIR: "" });
    const grader = {
      type: "text_similarity",
      name: "m",
      input: "{{sample.output_text}}",
      reference: "{{item.reference}}",
      evaluation_metric: "meteor",
    } as const;
    const input = { sample: sampleFromText(CONTEXT_PAIR.input), item: { reference: CONTEXT_PAIR.reference } };
    const [withWordNet] = await gradeBatch(grader, [input], ctx);
    const [without] = await gradeBatch(grader, [input], off);
    expect(withWordNet!.reward).toBeCloseTo(expected.meteor[0]!, 9);
    expect(without!.reward).toBeCloseTo(meteor(CONTEXT_PAIR.input, CONTEXT_PAIR.reference), 12);
    expect(without!.reward).toBeLessThan(withWordNet!.reward);
    await ctx.close?.();
    await off.close?.();
  });
});
