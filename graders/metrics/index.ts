/**
 * The text_similarity metrics, each agreeing with its Python reference to 1e-6 (test/graders/parity). See each
 * file's header for the reference and the exact call it reproduces.
 */
import { bleu } from "./bleu.ts";
import { fuzzyMatch } from "./fuzzy.ts";
import { gleu } from "./gleu.ts";
import { meteor } from "./meteor.ts";
import { rougeL, rougeN } from "./rouge.ts";

export type LocalMetric =
  | "fuzzy_match"
  | "bleu"
  | "gleu"
  | "meteor"
  | "rouge_1"
  | "rouge_2"
  | "rouge_3"
  | "rouge_4"
  | "rouge_5"
  | "rouge_l";

export const LOCAL_METRICS: Record<LocalMetric, (input: string, reference: string) => number> = {
  fuzzy_match: fuzzyMatch,
  bleu,
  gleu,
  meteor,
  rouge_1: (a, b) => rougeN(a, b, 1),
  rouge_2: (a, b) => rougeN(a, b, 2),
  rouge_3: (a, b) => rougeN(a, b, 3),
  rouge_4: (a, b) => rougeN(a, b, 4),
  rouge_5: (a, b) => rougeN(a, b, 5),
  rouge_l: rougeL,
};

export { bleu, fuzzyMatch, gleu, meteor, rougeL, rougeN };
