"""Builds a tiny random causal LM, greedy-decodes prompts with PyTorch, exports it to ONNX, writes the expectations.

    .venv/bin/python gpu-runner/trainer/tests/make_onnx_fixture.py --out /tmp/fx [--arch qwen2] [--new-tokens 12]

Writes `<out>/onnx/` (the export) and `<out>/expected.json`:
    {"onnx_dir", "arch", "new_tokens", "prompts": [{"prompt_ids", "expected_ids"}], "min_margin", "export_seconds", "files"}
`expected_ids` are the new tokens of an argmax loop that re-runs the full sequence each step (no KV cache), so
a decoder that gets its cache wrong cannot match them. EOS is not a stop here: every prompt gets `new_tokens`
tokens. `min_margin` is the smallest gap between the best and second-best logit over all steps; the seed is
bumped until it is at least MIN_MARGIN, so float rounding in another runtime cannot flip an argmax.
Logs go to stderr; stdout gets only the path of expected.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import onnx_export  # noqa: E402

MIN_MARGIN = 1e-3
CORPUS = [
    "the policy samples a completion and the grader scores it",
    "rewards are normalised within each group of completions",
    "a small model learns to answer short questions",
    "greedy decoding picks the most likely next token every step",
]
PROMPTS = ["the policy samples", "a small model learns to answer", "greedy"]


def build_tokenizer():
    """A byte-level BPE tokenizer trained on CORPUS, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>", "<unk>"], show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def build_model(arch: str, vocab_size: int, seed: int):
    """A 2-layer random model with grouped-query attention (4 query heads, 2 kv heads)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    common = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.1,  # wider logits than the default 0.02, so argmax margins are comfortable
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**common)).eval()
    return Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True)).eval()


@torch.no_grad()
def greedy_no_cache(model, prompt_ids: list[int], new_tokens: int) -> tuple[list[int], float]:
    """Argmax decoding that recomputes the whole sequence each step; returns (new ids, smallest top-2 margin)."""
    ids = list(prompt_ids)
    margin = float("inf")
    for _ in range(new_tokens):
        logits_V = model(input_ids=torch.tensor([ids])).logits[0, -1]
        top2 = torch.topk(logits_V, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        ids.append(int(logits_V.argmax()))
    return ids[len(prompt_ids) :], margin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--arch", choices=["llama", "qwen2"], default="llama")
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    tokenizer = build_tokenizer()
    prompts = [tokenizer(text)["input_ids"] for text in PROMPTS]
    for seed in range(args.seed, args.seed + 20):
        model = build_model(args.arch, len(tokenizer), seed)
        decoded = [greedy_no_cache(model, prompt, args.new_tokens) for prompt in prompts]
        min_margin = min(margin for _, margin in decoded)
        if min_margin >= MIN_MARGIN:
            break
        print(f"seed {seed}: min margin {min_margin:.2e} < {MIN_MARGIN}, trying the next seed", file=sys.stderr)
    else:
        raise SystemExit("no seed gave comfortable argmax margins")

    out = Path(args.out)
    started = time.perf_counter()
    files = onnx_export.export(model, tokenizer, str(out / "onnx"))
    export_seconds = time.perf_counter() - started
    expected = {
        "onnx_dir": str((out / "onnx").resolve()),
        "arch": args.arch,
        "seed": seed,
        "new_tokens": args.new_tokens,
        "prompts": [
            {"prompt_ids": prompt, "expected_ids": ids} for prompt, (ids, _) in zip(prompts, decoded, strict=True)
        ],
        "min_margin": min_margin,
        "export_seconds": round(export_seconds, 2),
        "files": files,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(out / "expected.json")


if __name__ == "__main__":
    main()
