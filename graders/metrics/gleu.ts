/**
 * gleu: Google BLEU as `nltk.translate.gleu_score.sentence_gleu([reference.split()], input.split())`
 * (n-grams of orders 1..4; the minimum of n-gram precision and recall).
 *
 * Reference: NLTK 3.x `gleu_score` (Wu et al. 2016), the implementation "Google BLEU" names in Python. Tokens are
 * Python `str.split()` pieces: NLTK scores pre-tokenised text and needs no tokenizer data for this.
 */
import { Interner, pySplit } from "./text.ts";

// Scratch reused by every call (grown as needed): per-call typed arrays cost more than short texts' n-gram counting.
let hypGrams = new Int32Array(64);
let refGrams = new Int32Array(64);
let counts = new Int32Array(128);
let slotPrefix = new Int32Array(256);
let slotToken = new Int32Array(256);
let slotId = new Int32Array(256);

/** The id of the n-gram (prefix id, last token) this order (slots of `mask + 1`), made on first sight. */
function gramId(prefix: number, token: number, mask: number, next: { count: number }): number {
  let slot = (Math.imul(prefix, 0x9e3779b1) ^ Math.imul(token, 0x85ebca77)) & mask;
  for (;;) {
    const id = slotId[slot]!;
    if (id === -1) {
      slotPrefix[slot] = prefix;
      slotToken[slot] = token;
      slotId[slot] = next.count;
      return next.count++;
    }
    if (slotPrefix[slot] === prefix && slotToken[slot] === token) return id;
    slot = (slot + 1) & mask;
  }
}

/** The gleu score in [0, 1]. */
export function gleu(input: string, reference: string): number {
  const interner = new Interner();
  const hyp = interner.internAll(pySplit(input));
  const ref = interner.internAll(pySplit(reference));
  const longest = Math.max(hyp.length, ref.length);
  if (hypGrams.length < longest) {
    hypGrams = new Int32Array(2 * longest);
    refGrams = new Int32Array(2 * longest);
  }
  let size = 16;
  while (size < 2 * (hyp.length + ref.length)) size *= 2;
  if (slotId.length < size) {
    slotPrefix = new Int32Array(size);
    slotToken = new Int32Array(size);
    slotId = new Int32Array(size);
  }
  // Ids per order: at most the distinct n-grams of both texts (order 1: the interned tokens).
  if (counts.length < hyp.length + ref.length) counts = new Int32Array(2 * (hyp.length + ref.length));
  for (let i = 0; i < hyp.length; i++) hypGrams[i] = hyp[i]!;
  for (let i = 0; i < ref.length; i++) refGrams[i] = ref[i]!;
  // Every n-gram of either text gets an id per order: order 1 is its token, order n + 1 the pair (its order-n
  // prefix's id, its last token), rewritten in place, so the keys stay small integers. The overlap (the sum over
  // n-grams of the fewer of the two counts) is then a count per id: hyp's n-grams counted up, ref's taken off while
  // some are left.
  const next = { count: 0 };
  let ids = interner.size;
  let tp = 0;
  let tpfp = 0;
  let tpfn = 0;
  for (let n = 1; n <= 4; n++) {
    const hypCount = Math.max(0, hyp.length - n + 1);
    const refCount = Math.max(0, ref.length - n + 1);
    if (n > 1) {
      slotId.fill(-1, 0, size);
      next.count = 0;
      for (let i = 0; i < hypCount; i++) hypGrams[i] = gramId(hypGrams[i]!, hyp[i + n - 1]!, size - 1, next);
      for (let i = 0; i < refCount; i++) refGrams[i] = gramId(refGrams[i]!, ref[i + n - 1]!, size - 1, next);
      ids = next.count;
    }
    tpfp += hypCount;
    tpfn += refCount;
    counts.fill(0, 0, ids);
    for (let i = 0; i < hypCount; i++) counts[hypGrams[i]!]!++;
    for (let i = 0; i < refCount; i++) {
      const g = refGrams[i]!;
      if (counts[g]! > 0) {
        tp++;
        counts[g]!--;
      }
    }
  }
  const nAll = Math.max(tpfp, tpfn);
  return nAll > 0 ? tp / nAll : 0;
}
