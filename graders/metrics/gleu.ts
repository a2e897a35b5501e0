/**
 * gleu: Google BLEU as `nltk.translate.gleu_score.sentence_gleu([reference.split()], input.split())`
 * (n-grams of orders 1..4; the minimum of n-gram precision and recall).
 *
 * Reference: NLTK 3.x `gleu_score` (Wu et al. 2016), the implementation "Google BLEU" names in Python. Tokens are
 * Python `str.split()` pieces: NLTK scores pre-tokenised text and needs no tokenizer data for this.
 */
import { countNgrams, Interner, pySplit } from "./text.ts";

/** The gleu score in [0, 1]. */
export function gleu(input: string, reference: string): number {
  const interner = new Interner();
  const hypIds = interner.internAll(pySplit(input));
  const refIds = interner.internAll(pySplit(reference));
  const hyp = countNgrams(hypIds, interner.size, 1, 4);
  const ref = countNgrams(refIds, interner.size, 1, 4);
  let tpfp = 0;
  for (const c of hyp.values()) tpfp += c;
  let tpfn = 0;
  let tp = 0;
  for (const [gram, c] of ref) {
    tpfn += c;
    const h = hyp.get(gram);
    if (h !== undefined) tp += Math.min(c, h);
  }
  const nAll = Math.max(tpfp, tpfn);
  return nAll > 0 ? tp / nAll : 0;
}
