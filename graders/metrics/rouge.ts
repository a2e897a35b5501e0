/**
 * rouge_1..rouge_5 and rouge_l: the F-measure of Google's `rouge_score` (rouge-score 0.1.2, the version OpenAI's
 * grader image ships): `RougeScorer([type]).score(target=reference, prediction=input)[type].fmeasure`, with the
 * default tokenizer (lowercase, non-[a-z0-9] runs become spaces, no stemmer) and, for rouge_l, sentence-level LCS
 * ("rougeL", not "rougeLsum"). Azure's RFT docs: "as defined by the rouge python library".
 *
 * rouge-score has no wheel in the local mirror, so the parity test compares against torchmetrics' `rouge_score`, an
 * independent implementation of the same tokenizer and F-measures (float32: it agrees with rouge-score to ~1e-7).
 */
import { lcsLength } from "./lcs.ts";
import { countNgrams, Interner } from "./text.ts";

/** rouge_score's DefaultTokenizer without stemming. */
export function rougeTokenize(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** ROUGE-N F-measure. */
export function rougeN(input: string, reference: string, n: number): number {
  const interner = new Interner();
  const targetIds = interner.internAll(rougeTokenize(reference));
  const predictionIds = interner.internAll(rougeTokenize(input));
  const target = countNgrams(targetIds, interner.size, n, n);
  const prediction = countNgrams(predictionIds, interner.size, n, n);
  let overlap = 0;
  let targetCount = 0;
  for (const [gram, c] of target) {
    targetCount += c;
    overlap += Math.min(c, prediction.get(gram) ?? 0);
  }
  let predictionCount = 0;
  for (const c of prediction.values()) predictionCount += c;
  return fmeasure(overlap / Math.max(predictionCount, 1), overlap / Math.max(targetCount, 1));
}

/** ROUGE-L F-measure (longest common subsequence of the token sequences). */
export function rougeL(input: string, reference: string): number {
  const interner = new Interner();
  const target = interner.internAll(rougeTokenize(reference));
  const prediction = interner.internAll(rougeTokenize(input));
  if (target.length === 0 || prediction.length === 0) return 0;
  const lcs = lcsLength(target, prediction);
  return fmeasure(lcs / prediction.length, lcs / target.length);
}
