/**
 * meteor: `nltk.translate.meteor_score.meteor_score([reference.split()], input.split())` with NLTK's defaults
 * (alpha 0.9, beta 3, gamma 0.5, lowercasing, exact then Porter-stem matching).
 *
 * Reference: NLTK 3.10 `meteor_score` (Banerjee & Lavie 2005). NLTK's third stage matches WordNet synonyms; WordNet
 * is a 30 MB corpus that a Web-standard grader cannot carry, so that stage is left out: scores equal NLTK's with
 * an empty WordNet, and can be lower than NLTK-with-WordNet where only a synonym links two words.
 */
import { porterStem } from "./porter.ts";
import { pySplit } from "./text.ts";

type Enum = [index: number, word: string];

/** NLTK's `_match_enums`: each hypothesis word, last first, takes the latest unused equal reference word. */
function matchEnums(hyp: Enum[], ref: Enum[]): { matches: [number, number][]; hyp: Enum[]; ref: Enum[] } {
  const positions = new Map<string, number[]>();
  ref.forEach(([, word], j) => {
    const list = positions.get(word);
    if (list) list.push(j);
    else positions.set(word, [j]);
  });
  const matchedHyp = new Set<number>();
  const matchedRef = new Set<number>();
  const matches: [number, number][] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    const list = positions.get(hyp[i]![1]);
    if (list && list.length > 0) {
      const j = list.pop()!;
      matchedHyp.add(i);
      matchedRef.add(j);
      matches.push([hyp[i]![0], ref[j]![0]]);
    }
  }
  return {
    matches,
    hyp: hyp.filter((_, i) => !matchedHyp.has(i)),
    ref: ref.filter((_, j) => !matchedRef.has(j)),
  };
}

function countChunks(matches: [number, number][]): number {
  let chunks = 1;
  for (let i = 0; i < matches.length - 1; i++) {
    const [h, r] = matches[i]!;
    const [h2, r2] = matches[i + 1]!;
    if (!(h2 === h + 1 && r2 === r + 1)) chunks++;
  }
  return chunks;
}

/** The meteor score in [0, 1]. */
export function meteor(input: string, reference: string): number {
  const hyp: Enum[] = pySplit(input).map((w, i) => [i, w.toLowerCase()]);
  const ref: Enum[] = pySplit(reference).map((w, i) => [i, w.toLowerCase()]);
  const exact = matchEnums(hyp, ref);
  const stemmed = matchEnums(
    exact.hyp.map(([i, w]) => [i, porterStem(w)]),
    exact.ref.map(([i, w]) => [i, porterStem(w)]),
  );
  const matches = [...exact.matches, ...stemmed.matches].sort((a, b) => a[0] - b[0]);
  const matchesCount = matches.length;
  if (hyp.length === 0 || ref.length === 0 || matchesCount === 0) return 0;
  const precision = matchesCount / hyp.length;
  const recall = matchesCount / ref.length;
  const alpha = 0.9;
  const beta = 3.0;
  const gamma = 0.5;
  const fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall);
  const fragFrac = countChunks(matches) / matchesCount;
  const penalty = gamma * fragFrac ** beta;
  return (1 - penalty) * fmean;
}
