"""A transcription of Google's rouge-score 0.1.2 scorer (rouge_scorer.py, tokenize.py, scoring.py; Apache-2.0),
kept to what the graders use: the default tokenizer without stemmer, rougeN and rougeL F-measures.

rouge-score itself cannot be installed here (no wheel in the local mirror), so the parity test checks the
TypeScript port against this file, and test/graders/text-similarity.unit.test.ts checks both against scores
worked out by hand.
"""

import collections
import re


def tokenize(text):
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    tokens = re.split(r"\s+", text)
    return [x for x in tokens if re.match(r"^[a-z0-9]+$", x)]


def fmeasure(precision, recall):
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


Score = collections.namedtuple("Score", ["precision", "recall", "fmeasure"])


def _create_ngrams(tokens, n):
    ngrams = collections.Counter()
    for ngram in (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)):
        ngrams[ngram] += 1
    return ngrams


def _score_ngrams(target_ngrams, prediction_ngrams):
    intersection = 0
    for ngram in target_ngrams:
        intersection += min(target_ngrams[ngram], prediction_ngrams[ngram])
    target_count = sum(target_ngrams.values())
    prediction_count = sum(prediction_ngrams.values())
    precision = intersection / max(prediction_count, 1)
    recall = intersection / max(target_count, 1)
    return Score(precision, recall, fmeasure(precision, recall))


def _score_lcs(target_tokens, prediction_tokens):
    if not target_tokens or not prediction_tokens:
        return Score(0, 0, 0)
    rows, cols = len(target_tokens), len(prediction_tokens)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            if target_tokens[i - 1] == prediction_tokens[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    lcs = table[-1][-1]
    precision = lcs / cols
    recall = lcs / rows
    return Score(precision, recall, fmeasure(precision, recall))


class RougeScorer:
    def __init__(self, rouge_types):
        self.rouge_types = rouge_types

    def score(self, target, prediction):
        target_tokens = tokenize(target)
        prediction_tokens = tokenize(prediction)
        result = {}
        for rouge_type in self.rouge_types:
            if rouge_type == "rougeL":
                result[rouge_type] = _score_lcs(target_tokens, prediction_tokens)
            else:
                n = int(rouge_type[5:])
                result[rouge_type] = _score_ngrams(
                    _create_ngrams(target_tokens, n), _create_ngrams(prediction_tokens, n)
                )
        return result
