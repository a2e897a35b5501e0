"""NLTK's real WordNet answers, for the parity test of graders/metrics/wordnet and meteor's synonym stage.

Usage: wordnet_ref.py WORDNET_DIR (--check | --bench N)  < JSON on stdin

WORDNET_DIR is a WordNet 3.0 dict folder (Debian's wordnet-base: /usr/share/wordnet), the files of NLTK's own
`wordnet` corpus. We give NLTK's default `nltk.corpus.wordnet` exactly that, as `<tmp>/corpora/wordnet` with
`<tmp>` on `nltk.data.path`, and call `meteor_score` with its defaults. Two files NLTK 3.10 opens are not in
wordnet-base: `lexnames` (we write the standard 45 lines; the names only label synsets) and `index.sense` (from
wordnet-sense-index; NLTK reads it only to map other WordNet versions for the multilingual OMW data, so when absent
an empty one stands in). Files are copied, not linked: NLTK refuses paths that resolve outside its root.

  --check    {"words": [...], "pairs": [{"input", "reference"}]} -> {"synsets": for each word,
             [[pos, offset, lemma_names] for each synset in wordnet.synsets(word)], "meteor": for each pair,
             meteor_score([reference.split()], input.split())} (one process: NLTK's WordNet takes ~6 s to open)
  --bench N  pairs -> meteor grades per CPU-second (time.process_time) over N passes, after one warm-up pass
"""

import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import nltk.data

warnings.filterwarnings("ignore")

LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()
LEX_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def install_corpus(folder, data_root):
    corpus = os.path.join(data_root, "corpora", "wordnet")
    os.makedirs(corpus)
    for name in os.listdir(folder):
        if os.path.isfile(os.path.join(folder, name)):
            shutil.copyfile(os.path.join(folder, name), os.path.join(corpus, name))
    with open(os.path.join(corpus, "lexnames"), "w") as out:
        for i, name in enumerate(LEXNAMES):
            out.write(f"{i:02d}\t{name}\t{LEX_POS[name.split('.')[0]]}\n")
    if not os.path.exists(os.path.join(corpus, "index.sense")):
        open(os.path.join(corpus, "index.sense"), "w").close()
    nltk.data.path.insert(0, data_root)


def main():
    folder, mode = sys.argv[1], sys.argv[2]
    items = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as data_root:
        install_corpus(folder, data_root)
        from nltk.corpus import wordnet
        from nltk.translate.meteor_score import meteor_score

        if mode == "--check":
            out = {
                "synsets": [[[s.pos(), s.offset(), s.lemma_names()] for s in wordnet.synsets(w)] for w in items["words"]],
                "meteor": [meteor_score([p["reference"].split()], p["input"].split()) for p in items["pairs"]],
            }
        elif mode == "--bench":
            passes = int(sys.argv[3])
            for p in items:  # warm NLTK's synset cache, as a long-running grader would have it
                meteor_score([p["reference"].split()], p["input"].split())
            start = time.process_time()
            for _ in range(passes):
                for p in items:
                    meteor_score([p["reference"].split()], p["input"].split())
            out = passes * len(items) / (time.process_time() - start)
        else:
            raise SystemExit(f"unknown mode {mode}")
        json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
