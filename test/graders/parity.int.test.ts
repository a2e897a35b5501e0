/**
 * Parity of every text_similarity metric with its Python reference (run in the project's venv on the same pairs),
 * to 1e-6. The references and why each is the one OpenAI's graders follow are in graders/metrics/*.ts headers.
 */
import { describe, expect, it } from "vitest";
import { LOCAL_METRICS, type LocalMetric } from "../../graders/metrics/index.ts";
import { porterStem } from "../../graders/metrics/porter.ts";
import { buildCorpus, STEM_WORDS } from "./reference/corpus.ts";
import { hasVenv, runReference } from "./reference/python.ts";

const pairs = buildCorpus(600);

describe.skipIf(!hasVenv)("text_similarity parity with the Python references", () => {
  const expected = hasVenv ? runReference<Record<LocalMetric, number>[]>(pairs) : [];

  for (const metric of Object.keys(LOCAL_METRICS) as LocalMetric[]) {
    it(`${metric} agrees to 1e-6 on ${pairs.length} pairs`, () => {
      const fn = LOCAL_METRICS[metric];
      const mismatches: string[] = [];
      pairs.forEach((p, i) => {
        const want = expected[i]![metric];
        const got = fn(p.input, p.reference);
        if (!(Math.abs(got - want) <= 1e-6)) {
          mismatches.push(`#${i} got ${got} want ${want}: ${JSON.stringify(p).slice(0, 300)}`);
        }
      });
      expect(mismatches.slice(0, 5)).toEqual([]);
    });
  }

  it("the Porter stemmer agrees with NLTK's PorterStemmer()", () => {
    const words = [...new Set([...STEM_WORDS, ...pairs.flatMap((p) => p.reference.split(/\s+/))])].filter(Boolean);
    const want = runReference<string[]>(words, ["--stem"]);
    const diffs = words.map((w, i) => [w, porterStem(w), want[i]]).filter(([, got, exp]) => got !== exp);
    expect(diffs.slice(0, 10)).toEqual([]);
  });
});
