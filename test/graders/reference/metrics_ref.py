"""Reference scores for the text_similarity parity test.

Reads a JSON list of {"input", "reference"} pairs on stdin and writes, for each pair, the score of every metric as
the Python reference computes it (see graders/metrics/*.ts for why each call is the reference):

  fuzzy_match  rapidfuzz.fuzz.WRatio(input, reference, processor=rapidfuzz.utils.default_process) / 100
  bleu         sacrebleu.sentence_bleu(input, [reference]).score / 100
  gleu         nltk sentence_gleu([reference.split()], input.split())
  meteor       nltk meteor_score([reference.split()], input.split()) with an empty WordNet: what meteor gives with no
               WordNet configured (wordnet_ref.py checks the synonym stage against the real WordNet files)
  rouge_*      torchmetrics 1.9 rouge_score(input, reference, rouge_keys=(key,))[key + "_fmeasure"]: an independent
               implementation of Google's rouge-score (same default tokenizer, no stemmer, rougeN and sentence-level
               rougeL F-measure). rouge-score itself has no wheel in the local mirror; torchmetrics computes in
               float32, so it agrees to about 1e-7.

With `--stem` it reads a list of words and writes NLTK's Porter stems; with `--fuzzy` only the fuzzy_match scores. With `--serve` it is the
bench's timing server (see `serve`).
"""

import json
import sys
import time
import warnings

import sacrebleu
from nltk.translate.gleu_score import sentence_gleu
from nltk.translate.meteor_score import meteor_score
from rapidfuzz import fuzz, utils


warnings.filterwarnings("ignore")


class EmptyWordNet:
    """NLTK's WordNet with no synsets for any word: the reference for meteor without a WordNet (workerd)."""

    def synsets(self, _word):
        return []


WORDNET = EmptyWordNet()
ROUGE_KEYS = {f"rouge_{n}": f"rouge{n}" for n in range(1, 6)}
ROUGE_KEYS["rouge_l"] = "rougeL"


def metrics(only=None):
    """The reference of every metric, or of `only`. torchmetrics is imported only when a ROUGE metric is wanted: its
    import (torch) takes seconds, which every fuzzy_match-only run of the bench would pay."""
    out = {
        "fuzzy_match": lambda a, b: fuzz.WRatio(a, b, processor=utils.default_process) / 100,
        "bleu": lambda a, b: sacrebleu.sentence_bleu(a, [b]).score / 100,
        "gleu": lambda a, b: sentence_gleu([b.split()], a.split()),
        "meteor": lambda a, b: meteor_score([b.split()], a.split(), wordnet=WORDNET),
    }
    if only is None or only in ROUGE_KEYS:
        from torchmetrics.functional.text.rouge import rouge_score

        for name, key in ROUGE_KEYS.items():
            out[name] = lambda a, b, key=key: rouge_score(a, b, rouge_keys=(key,))[f"{key}_fmeasure"].item()
    return out


def serve():
    """--serve: a timing server for the bench, so both sides can be timed in short alternating rounds. Each stdin line
    is JSON: {"pairs": [...]} sets the pairs; {"metric": name, "seconds": s} times whole passes of that metric over
    them until s CPU-seconds have passed and answers one line, its grades per CPU-second."""
    pairs = []
    fns = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if "pairs" in msg:
            pairs = msg["pairs"]
            continue
        name = msg["metric"]
        if name not in fns:
            fns.update(metrics(name))
        fn = fns[name]
        graded = 0
        start = time.process_time()
        while True:
            for p in pairs:
                fn(p["input"], p["reference"])
            graded += len(pairs)
            elapsed = time.process_time() - start
            if elapsed >= msg["seconds"]:
                break
        print(graded / elapsed, flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
        return
    pairs = json.load(sys.stdin)
    if len(sys.argv) > 1 and sys.argv[1] == "--stem":
        from nltk.stem.porter import PorterStemmer

        stemmer = PorterStemmer()
        json.dump([stemmer.stem(w) for w in pairs], sys.stdout)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--fuzzy":
        json.dump([fuzz.WRatio(p["input"], p["reference"], processor=utils.default_process) / 100 for p in pairs], sys.stdout)
        return
    fns = metrics()
    json.dump([{name: fn(p["input"], p["reference"]) for name, fn in fns.items()} for p in pairs], sys.stdout)


if __name__ == "__main__":
    main()
