/**
 * gleu: Google BLEU as `nltk.translate.gleu_score.sentence_gleu([reference.split()], input.split())`
 * (n-grams of orders 1..4; the minimum of n-gram precision and recall).
 *
 * Reference: NLTK 3.x `gleu_score` (Wu et al. 2016), the implementation "Google BLEU" names in Python. Tokens are
 * Python `str.split()` pieces: NLTK scores pre-tokenised text and needs no tokenizer data for this.
 */
import { Interner, pySplit } from "./text.ts";

/** The gleu score in [0, 1]. */
export function gleu(input: string, reference: string): number {
  const interner = new Interner();
  const hypTokens = Int32Array.from(interner.internAll(pySplit(input)));
  const refTokens = Int32Array.from(interner.internAll(pySplit(reference)));
  const vocab = interner.size;
  // Every n-gram of either text gets an id per order: order 1 is its token, order n + 1 the pair (its order-n prefix's
  // id, its last token), so the keys stay small integers. The overlap (the sum over n-grams of the fewer of the two
  // counts) is then a count array per order: hyp's n-grams counted up, ref's taken off while some are left.
  let hyp: Int32Array = hypTokens;
  let ref: Int32Array = refTokens;
  let ids = vocab;
  let tp = 0;
  let tpfp = 0;
  let tpfn = 0;
  // One open-addressing table (prefix id, token) -> id, reused by every order: sized for all n-grams of both texts.
  let size = 16;
  while (size < 2 * (hypTokens.length + refTokens.length)) size *= 2;
  const slotPrefix = new Int32Array(size);
  const slotToken = new Int32Array(size);
  const slotId = new Int32Array(size);
  const mask = size - 1;
  for (let n = 1; n <= 4; n++) {
    if (n > 1) {
      slotId.fill(-1);
      let next = 0;
      const extend = (grams: Int32Array, tokens: Int32Array): Int32Array => {
        const out = new Int32Array(Math.max(0, grams.length - 1));
        for (let i = 0; i < out.length; i++) {
          const prefix = grams[i]!;
          const token = tokens[i + n - 1]!;
          let slot = (Math.imul(prefix, 0x9e3779b1) ^ Math.imul(token, 0x85ebca77)) & mask;
          while (slotId[slot] !== -1 && (slotPrefix[slot] !== prefix || slotToken[slot] !== token)) {
            slot = (slot + 1) & mask;
          }
          if (slotId[slot] === -1) {
            slotPrefix[slot] = prefix;
            slotToken[slot] = token;
            slotId[slot] = next++;
          }
          out[i] = slotId[slot]!;
        }
        return out;
      };
      hyp = extend(hyp, hypTokens);
      ref = extend(ref, refTokens);
      ids = next;
    }
    tpfp += hyp.length;
    tpfn += ref.length;
    const counts = new Int32Array(ids);
    for (const g of hyp) counts[g]!++;
    for (const g of ref) {
      if (counts[g]! > 0) {
        tp++;
        counts[g]!--;
      }
    }
  }
  const nAll = Math.max(tpfp, tpfn);
  return nAll > 0 ? tp / nAll : 0;
}
