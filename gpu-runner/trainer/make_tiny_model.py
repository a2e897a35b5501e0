"""Build a tiny, real base model and the addition task it is benchmarked on.

    .venv/bin/python gpu-runner/trainer/make_tiny_model.py --out DIR --data-out DIR [--seed 0] [--quick]

Everything is built from the seed, offline, in under a minute on two CPU cores:

1. the task: "What is 47+38?" -> "85" (operands of 1 or 2 digits). `valid.jsonl` is held out:
   its problems are never seen in pre-training nor in `train.jsonl`. Each row is
   `{"messages": [{"role": "user", "content": ...}], "answer": "432"}`, so a `string_check`
   grader compares `{{item.answer}}` with `{{sample.output_text}}`.
2. a tokenizer trained with `tokenizers` (BPE, digits always single tokens, ~64 tokens) with a
   Qwen-style chat template, eos `<|im_end|>` and pad `<|endoftext|>`.
3. a Llama-architecture model (0.57M parameters) supervised-pretrained on the task for a short
   while with label smoothing: its greedy answers are right 62% of the time but its temperature-1
   samples only 24%, so a reinforcement fine-tuning run has clear headroom. Measured with the
   engine (GRPO, 16 prompts x 8 samples, LoRA r16, lr 2e-3, PPO-clip): held-out temperature-1
   reward 0.25 -> 0.48 after 30 steps, 0.54 after 60 (about a minute of CPU).

`--quick` builds a smaller model with a few training steps: the fixture of the engine's tests.
The HF layout written to --out (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, generation_config.json) loads like any open-weight model.
"""

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

PAD, EOS, BOS_TURN = "<|endoftext|>", "<|im_end|>", "<|im_start|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class BuildConfig:
    seed: int = 0
    max_digits: int = 2  # operands have 1..max_digits digits
    n_train_rows: int = 2000  # RL training prompts written to train.jsonl
    n_valid_rows: int = 200  # held-out prompts written to valid.jsonl
    hidden_size: int = 128
    n_layers: int = 3
    n_heads: int = 4
    intermediate_size: int = 320
    pretrain_steps: int = 700  # measured (seed 0): held-out greedy 0.625, temperature-1 0.245
    batch_size: int = 64
    lr: float = 3e-3
    label_smoothing: float = 0.25  # keeps probability off the right digit: temperature-1 accuracy well below greedy
    log_accuracy: bool = False  # print held-out accuracy every 100 steps (for tuning)


QUICK = dict(hidden_size=32, n_layers=2, n_heads=2, intermediate_size=64, pretrain_steps=30, n_train_rows=64, n_valid_rows=32)


# ---- the task -------------------------------------------------------------------------------------


def random_problem(rng: random.Random, max_digits: int) -> tuple[int, int]:
    def operand() -> int:
        digits = rng.randint(1, max_digits)
        return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)

    return operand(), operand()


def row(a: int, b: int) -> dict:
    return {"messages": [{"role": "user", "content": f"What is {a}+{b}?"}], "answer": str(a + b)}


def make_splits(cfg: BuildConfig) -> tuple[list[tuple[int, int]], set[tuple[int, int]]]:
    """Held-out problems first, so that nothing else ever draws them."""
    rng = random.Random(cfg.seed)
    valid: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    while len(valid) < cfg.n_valid_rows:
        p = random_problem(rng, cfg.max_digits)
        if p not in seen:
            seen.add(p)
            valid.append(p)
    return valid, seen


def draw_train(rng: random.Random, cfg: BuildConfig, held_out: set[tuple[int, int]]) -> tuple[int, int]:
    while True:
        p = random_problem(rng, cfg.max_digits)
        if p not in held_out:
            return p


# ---- the tokenizer -------------------------------------------------------------------------------


def build_tokenizer(corpus: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<|unk|>"))
    # Words keep their leading space as "▁"; every digit is its own pre-token, so never merged.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never"),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never")
    specials = [PAD, EOS, BOS_TURN, "<|unk|>"]
    trainer = trainers.BpeTrainer(vocab_size=64, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token="<|unk|>", additional_special_tokens=[BOS_TURN]
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def encode_examples(tok: PreTrainedTokenizerFast, problems: list[tuple[int, int]]) -> list[tuple[list[int], int]]:
    """Token ids of prompt + answer + eos, and where the answer starts, for many problems at once.

    The chat template is rendered once around a placeholder (checked against a real rendering), so
    thousands of examples cost one batched call into the Rust tokenizer.
    """
    marker = "\x00"
    before, after = tok.apply_chat_template(
        [{"role": "user", "content": marker}], add_generation_prompt=True, tokenize=False
    ).split(marker)
    rows = [row(a, b) for a, b in problems]
    prompts = [before + r["messages"][0]["content"] + after for r in rows]
    assert prompts[0] == tok.apply_chat_template(rows[0]["messages"], add_generation_prompt=True, tokenize=False)
    prompt_ids = tok(prompts, add_special_tokens=False)["input_ids"]
    answer_ids = tok([r["answer"] for r in rows], add_special_tokens=False)["input_ids"]
    return [(p + a + [tok.eos_token_id], len(p)) for p, a in zip(prompt_ids, answer_ids)]


# ---- pre-training and measuring --------------------------------------------------------------------


def pretrain(model, tok, cfg: BuildConfig, held_out: set[tuple[int, int]], probe: list[tuple[int, int]] = ()) -> None:
    rng = random.Random(cfg.seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    pool = encode_examples(tok, [draw_train(rng, cfg, held_out) for _ in range(cfg.pretrain_steps * cfg.batch_size)])
    model.train()
    for step in range(cfg.pretrain_steps):
        lr = cfg.lr * min(1.0, (step + 1) / 50)  # short warm-up, then constant
        for group in opt.param_groups:
            group["lr"] = lr
        examples = pool[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        T = max(len(ids) for ids, _ in examples)
        input_ids_BT = torch.full((len(examples), T), tok.pad_token_id)
        labels_BT = torch.full((len(examples), T), -100)
        for i, (ids, start) in enumerate(examples):
            input_ids_BT[i, : len(ids)] = torch.tensor(ids)
            labels_BT[i, start : len(ids)] = torch.tensor(ids[start:])  # train on the answer only
        logits_BTV = model(input_ids=input_ids_BT).logits
        loss = F.cross_entropy(
            logits_BTV[:, :-1].reshape(-1, logits_BTV.shape[-1]),
            labels_BT[:, 1:].reshape(-1),
            ignore_index=-100,
            label_smoothing=cfg.label_smoothing,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == cfg.pretrain_steps - 1:
            print(f"pretrain step {step:4d} loss {loss.item():.3f}", flush=True)
        if probe and step % 100 == 99:
            greedy, t1 = accuracy(model, tok, probe, 0.0, 0), accuracy(model, tok, probe, 1.0, 0)
            print(f"  held-out accuracy: greedy {greedy:.3f}, temperature 1 {t1:.3f}", flush=True)
            model.train()


@torch.no_grad()
def accuracy(model, tok, problems: list[tuple[int, int]], temperature: float, seed: int) -> float:
    """Exact match of a sampled answer (temperature 0 = greedy), left-padded batch, no KV cache needed."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    prompts = encode_examples(tok, problems)
    prompt_ids = [ids[:start] for ids, start in prompts]
    P = max(len(p) for p in prompt_ids)
    input_ids_BT = torch.tensor([[tok.pad_token_id] * (P - len(p)) + p for p in prompt_ids])
    mask_BT = (torch.arange(P)[None, :] >= torch.tensor([P - len(p) for p in prompt_ids])[:, None]).long()
    B = len(problems)
    done_B = torch.zeros(B, dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(B)]
    for _ in range(6):
        pos_BT = (mask_BT.cumsum(-1) - 1).clamp(min=0)
        logits_BV = model(input_ids=input_ids_BT, attention_mask=mask_BT, position_ids=pos_BT).logits[:, -1].float()
        if temperature == 0:
            next_B = logits_BV.argmax(-1)
        else:
            next_B = torch.multinomial(torch.softmax(logits_BV / temperature, -1), 1, generator=gen)[:, 0]
        for i in range(B):
            if not done_B[i]:
                if next_B[i].item() == tok.eos_token_id:
                    done_B[i] = True
                else:
                    out[i].append(next_B[i].item())
        input_ids_BT = torch.cat([input_ids_BT, next_B[:, None]], 1)
        mask_BT = torch.cat([mask_BT, torch.ones(B, 1, dtype=torch.long)], 1)
    texts = [tok.decode(ids, skip_special_tokens=True) for ids in out]
    return sum(t == str(a + b) and d for t, (a, b), d in zip(texts, problems, done_B.tolist())) / B


# ---- main ---------------------------------------------------------------------------------------


def build(out: Path, data_out: Path, cfg: BuildConfig) -> dict:
    t0 = time.time()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    valid, held_out = make_splits(cfg)
    rng = random.Random(cfg.seed + 2)
    train = [draw_train(rng, cfg, held_out) for _ in range(cfg.n_train_rows)]

    corpus_rng = random.Random(cfg.seed + 3)
    corpus = []
    for _ in range(500):
        r = row(*draw_train(corpus_rng, cfg, held_out))
        corpus.append(f"user\n{r['messages'][0]['content']}\nassistant\n{r['answer']}")
    tok = build_tokenizer(corpus)

    model_cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(model_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: llama, {n_params} parameters, vocab {len(tok)}", flush=True)
    pretrain(model, tok, cfg, held_out, valid[:100] if cfg.log_accuracy else [])

    probe = valid[: min(200, len(valid))]
    acc_greedy = accuracy(model, tok, probe, 0.0, cfg.seed)
    acc_t1 = accuracy(model, tok, probe, 1.0, cfg.seed)

    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, do_sample=True, temperature=1.0
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)
    data_out.mkdir(parents=True, exist_ok=True)
    for name, problems in (("train.jsonl", train), ("valid.jsonl", valid)):
        with open(data_out / name, "w") as f:
            for a, b in problems:
                f.write(json.dumps(row(a, b)) + "\n")
    report = {
        "n_params": n_params,
        "vocab_size": len(tok),
        "valid_accuracy_greedy": acc_greedy,
        "valid_accuracy_temperature_1": acc_t1,
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(report), flush=True)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="model folder (HF layout)")
    ap.add_argument("--data-out", type=Path, required=True, help="folder for train.jsonl and valid.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a smaller, barely trained model for fast tests")
    ap.add_argument("--pretrain-steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    # One thread: on a small, shared CPU box more threads spin against each other (20x slower here).
    torch.set_num_threads(args.threads)
    cfg = BuildConfig(seed=args.seed, **(QUICK if args.quick else {}))
    if args.pretrain_steps is not None:
        cfg.pretrain_steps = args.pretrain_steps
    build(args.out, args.data_out, cfg)


if __name__ == "__main__":
    main()
