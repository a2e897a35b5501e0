/**
 * meteor: `nltk.translate.meteor_score.meteor_score([reference.split()], input.split())` with NLTK's defaults
 * (alpha 0.9, beta 3, gamma 0.5, lowercasing, exact, then Porter-stem, then WordNet-synonym matching).
 *
 * Reference: NLTK 3.10 `meteor_score` (Banerjee & Lavie 2005). The synonym stage needs WordNet 3.0 (a 30 MB corpus):
 * given a `Thesaurus` (the grader context's `wordnet`, loaded on Node from RFT_GRADER_WORDNET_DIR or
 * /usr/share/wordnet), scores equal NLTK's with that WordNet; without one (workerd) the stage is skipped and scores
 * equal NLTK's with an empty WordNet, lower where only a synonym links two words.
 */
import { porterStem } from "./porter.ts";
import { pySplit } from "./text.ts";

/** What the synonym stage asks of WordNet (`WordNet.synonyms` in ./wordnet/wordnet.ts). */
export interface Thesaurus {
  /** The word itself and every `_`-free lemma name of every synset of `word`, as NLTK's METEOR collects them. */
  synonyms(word: string): ReadonlySet<string>;
}

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

/**
 * NLTK's `_enum_wordnetsyn_match`: each hypothesis word, last first, takes the latest unused reference word among
 * its synonyms. (NLTK walks a Python set of synonyms, but the latest position is unique, so the order is moot.)
 */
function matchSynonyms(hyp: Enum[], ref: Enum[], thesaurus: Thesaurus): [number, number][] {
  const positions = new Map<string, number[]>();
  ref.forEach(([, word], j) => {
    const list = positions.get(word);
    if (list) list.push(j);
    else positions.set(word, [j]);
  });
  const matches: [number, number][] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    let best: number[] | null = null;
    for (const synonym of thesaurus.synonyms(hyp[i]![1])) {
      const list = positions.get(synonym);
      if (list && list.length > 0 && (best === null || list[list.length - 1]! > best[best.length - 1]!)) best = list;
    }
    if (best) matches.push([hyp[i]![0], ref[best.pop()!]![0]]);
  }
  return matches;
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

/** The meteor score in [0, 1]; the synonym stage runs when `thesaurus` is given. */
export function meteor(input: string, reference: string, thesaurus?: Thesaurus): number {
  const hyp: Enum[] = pySplit(input).map((w, i) => [i, w.toLowerCase()]);
  const ref: Enum[] = pySplit(reference).map((w, i) => [i, w.toLowerCase()]);
  const exact = matchEnums(hyp, ref);
  const stemmed = matchEnums(
    exact.hyp.map(([i, w]) => [i, porterStem(w)]),
    exact.ref.map(([i, w]) => [i, porterStem(w)]),
  );
  // As in NLTK, the synonym stage sees the stem stage's leftovers as stems: it looks up the synonyms of a
  // hypothesis word's Porter stem ("dogs" -> "dog") and compares them with the reference words' stems.
  const synonyms =
    thesaurus && stemmed.hyp.length > 0 && stemmed.ref.length > 0
      ? matchSynonyms(stemmed.hyp, stemmed.ref, thesaurus)
      : [];
  const matches = [...exact.matches, ...stemmed.matches, ...synonyms].sort((a, b) => a[0] - b[0]);
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
