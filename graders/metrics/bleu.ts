/**
 * bleu: sentence BLEU as `sacrebleu.sentence_bleu(input, [reference]).score / 100` (sacrebleu 2.x defaults:
 * 13a tokenizer, case-sensitive, exponential smoothing, effective order, max n-gram order 4).
 *
 * Reference: sacrebleu (Post, 2018). OpenAI's own evals compute sentence BLEU this way
 * (openai/evals `evals/elsuite/translate.py`: `BLEU(effective_order=True).sentence_score(sampled, expected)`).
 */
import { countNgrams, Interner, pyRstrip, pySplit } from "./text.ts";

const MAX_ORDER = 4;

// sacrebleu's TokenizerRegexp, in order (tokenizers/tokenizer_re.py).
const PUNCT = /([{-~[-` -&(-+:-@/])/g;
const PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/g;
const PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/g;
const DASH_AFTER_DIGIT = /([0-9])(-)/g;

/** sacrebleu's 13a tokenizer (mteval-v13a.pl), applied after `rstrip()`. Returns the tokens. */
export function tokenize13a(text: string): string[] {
  let line = pyRstrip(text);
  line = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  line = ` ${line} `;
  line = line.replace(PUNCT, " $1 ");
  line = line.replace(PERIOD_COMMA_AFTER_NON_DIGIT, "$1 $2 ");
  line = line.replace(PERIOD_COMMA_BEFORE_NON_DIGIT, " $1 $2");
  line = line.replace(DASH_AFTER_DIGIT, "$1 $2 ");
  return pySplit(line);
}

/** The bleu score in [0, 1]. */
export function bleu(input: string, reference: string): number {
  const hyp = tokenize13a(input);
  const ref = tokenize13a(reference);
  const interner = new Interner();
  const hypIds = interner.internAll(hyp);
  const refIds = interner.internAll(ref);
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  const refNgrams = countNgrams(refIds, interner.size, 1, MAX_ORDER);
  for (let n = 1; n <= MAX_ORDER; n++) {
    const hypNgrams = countNgrams(hypIds, interner.size, n, n);
    for (const [gram, count] of hypNgrams) {
      total[n - 1]! += count;
      const refCount = refNgrams.get(gram);
      if (refCount !== undefined) correct[n - 1]! += Math.min(count, refCount);
    }
  }
  const sysLen = hyp.length;
  const refLen = ref.length;
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  if (!correct.some((c) => c !== 0)) return 0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  let smoothMteval = 1.0;
  let effOrder = MAX_ORDER;
  for (let n = 1; n <= MAX_ORDER; n++) {
    if (total[n - 1] === 0) break;
    effOrder = n;
    if (correct[n - 1] === 0) {
      smoothMteval *= 2;
      precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  let logSum = 0;
  for (let i = 0; i < effOrder; i++) {
    const p = precisions[i]!;
    logSum += p === 0 ? -9999999999 : Math.log(p);
  }
  return (bp * Math.exp(logSum / effOrder)) / 100;
}
