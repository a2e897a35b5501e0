/**
 * Pairs for METEOR's WordNet synonym stage: hand-written ones (synonyms, inflected synonyms, exception-list forms,
 * case, unicode, empty) and seeded ones where reference words are swapped for lemma names of their own synsets, so
 * the synonym stage decides many matches. Built with our WordNet reader; the expected scores come from NLTK.
 */
import type { WordNet } from "../../../graders/metrics/wordnet/wordnet.ts";
import { buildCorpus, type Pair, rng } from "./corpus.ts";

const SENTENCES = [
  "the quick brown dog jumps over the lazy fox",
  "it is a guide to action which ensures that the military always obeys the commands of the party",
  "the children were running quickly towards the big old house",
  "she bought a new car and drove happily to the city",
  "geese flew over the frozen lake at dawn",
  "he is the best and happiest student in the large class",
  "the movie was funny and the audience laughed loudly",
  "we began to understand the difficult problem slowly",
  "the doctor examined the sick patient carefully",
  "a small boy ate the sweet apples under the tree",
  "Prices rose sharply after the storm destroyed the harbour",
  "the judges were wise and fair in their final decisions",
  "mice ran across the floor while the cats slept",
  "they purchased several fast ships for the long journey",
  "the teacher spoke firmly to the noisy pupils",
];

const FIXED: Pair[] = [
  { input: "the quick brown dog", reference: "the fast brown canine" },
  { input: "the car is big", reference: "the automobile is large" },
  { input: "dogs", reference: "hound" },
  { input: "Dogs and CATS", reference: "hounds and Felines" },
  { input: "geese", reference: "goose" },
  { input: "the mice were running", reference: "the mouse was run" },
  { input: "better", reference: "good" },
  { input: "happiest", reference: "happy" },
  { input: "she sang beautifully", reference: "she sung attractively" },
  { input: "purchase buy", reference: "buy purchase" },
  { input: "buy buy buy", reference: "purchase bargain buy" },
  { input: "large big", reference: "big large" },
  { input: "hot_dog frankfurter", reference: "hotdog wiener" },
  { input: "dog-iron andiron", reference: "firedog dog" },
  { input: "", reference: "" },
  { input: "dog", reference: "" },
  { input: "", reference: "dog" },
  { input: "café naïve", reference: "coffeehouse naif" },
  { input: "İstanbul Constantinople", reference: "istanbul byzantium" },
  { input: "ΟΔΟΣ dog", reference: "οδος domestic_dog" },
  { input: "s es ed ing", reference: "er est ies men" },
  { input: "axes feet teeth", reference: "axis foot tooth" },
  {
    input: "It is a guide to action which ensures that the military always obeys the commands of the party",
    reference: "It is a guide to action that ensures that the military will forever heed Party commands",
  },
  {
    input: "It is to insure the troops forever hearing the activity guidebook that party direct",
    reference: "It is the practical guide for the army always to heed the directions of the party",
  },
];

/** A lemma name of one of `word`'s synsets (spaces for `_`, so some replacements add words), or `word`. */
function swap(wordnet: WordNet, word: string, r: () => number): string {
  const names = wordnet.synsets(word).flatMap((s) => s.lemmaNames);
  if (names.length === 0) return word;
  const name = names[Math.floor(r() * names.length)]!;
  return r() < 0.1 ? name.toUpperCase().replaceAll("_", " ") : name.replaceAll("_", " ");
}

function inflect(word: string, r: () => number): string {
  return word + ["s", "es", "ed", "ing", "er", "est", ""][Math.floor(r() * 7)]!;
}

/** `count` pairs (plus the hand-written ones), the same for the same seed. */
export function buildSynonymCorpus(wordnet: WordNet, count = 400, seed = 7): Pair[] {
  const r = rng(seed);
  const out = [...FIXED];
  const base = buildCorpus(count, seed);
  for (let k = 0; k < count; k++) {
    const sentence =
      r() < 0.6 ? SENTENCES[Math.floor(r() * SENTENCES.length)]! : base[k % base.length]!.reference || "empty";
    const words = sentence.split(" ");
    const input = words.map((w) => (r() < 0.15 ? inflect(w, r) : w)).join(" ");
    const reference = words.map((w) => (r() < 0.4 ? swap(wordnet, w, r) : w));
    if (r() < 0.2) reference.reverse();
    out.push({ input, reference: reference.join(" ") });
  }
  return out;
}
