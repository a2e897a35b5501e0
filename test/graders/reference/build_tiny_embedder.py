"""Builds a tiny BERT-style sentence encoder in the Hugging Face layout, for the ONNX embeddings test.

No pretrained weights exist here, so the model is random (seeded) and the WordPiece tokenizer is trained on a few
sentences with `tokenizers`; the folder looks exactly like a real embedding model's ONNX export:

  <out>/model.onnx             last_hidden_state from (input_ids, attention_mask, token_type_ids), dynamic batch/length
  <out>/tokenizer.json         BERT normalizer and pre-tokenizer, WordPiece, [CLS] ... [SEP]
  <out>/tokenizer_config.json
  <out>/config.json
  <out>/expected.json          {"texts", "embeddings"}: PyTorch's mean-pooled (attention mask), L2-normalised vectors

Run: .venv/bin/python test/graders/reference/build_tiny_embedder.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A fast auburn fox leaped above a sleepy hound!",
    "Paris is the capital of France; Lyon is not.",
    "Reinforcement fine-tuning rewards the answers a grader likes.",
    "Cosine similarity compares the directions of two embedding vectors.",
    "naïve café résumé — unicode text, tabs\tand newlines\nalike.",
    "12 + 30 = 42, and 3.14 is close to pi.",
]

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "the QUICK brown fox",
    "Paris is the capital of France.",
    "Cosine similarity of embeddings",
    "naïve café",
    "",
    "zebra xylophone quantum",  # words the tokenizer never saw: [UNK] and sub-words
    "The quick brown fox jumps over the lazy dog. " * 12,  # longer than the model's 128 positions: truncated
]


def build_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], min_frequency=1
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece()
    tok.enable_truncation(max_length=128)
    return tok


def embed(model: BertModel, tok: Tokenizer, texts: list[str]) -> list[list[float]]:
    enc = tok.encode_batch(texts)
    width = max(len(e.ids) for e in enc)
    ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in enc])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in enc])
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1).tolist()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tok = build_tokenizer()
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "model_max_length": 128, "tokenizer_class": "BertTokenizer"})
    )
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    config.save_pretrained(out)
    ids = torch.tensor([[2, 10, 11, 3], [2, 12, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=128)
    torch.onnx.export(
        model,
        (ids, mask, torch.zeros_like(ids)),
        str(out / "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}, {0: batch, 1: seq}),
        opset_version=18,
        dynamo=True,
        external_data=False,
    )
    (out / "expected.json").write_text(json.dumps({"texts": TEXTS, "embeddings": embed(model, tok, TEXTS)}))


if __name__ == "__main__":
    main()
