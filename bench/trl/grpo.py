"""TRL's GRPOTrainer on the tiny addition task: the baseline bench/trl/compare.ts measures us against.

    .venv/bin/python bench/trl/grpo.py --model DIR --train FILE --batch 8 --n 8 --steps 10 --max-tokens 8

Same model, data, group size (num_generations), prompts per step, learning rate, temperature and completion
length as the supervisor's run; full fine-tuning, no KL (beta 0), one optimizer step per generation batch.
Prints one JSON line: {"steps", "samples", "seconds", "samples_per_s"} where seconds is trainer.train() only.
"""

import argparse
import json
import os
import sys
import time

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", default="/tmp/trl-grpo-bench")
    ap.add_argument("--batch", type=int, default=8, help="prompts per step")
    ap.add_argument("--n", type=int, default=8, help="completions per prompt (num_generations)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if os.environ.get("RFT_ENGINE_THREADS"):
        torch.set_num_threads(int(os.environ["RFT_ENGINE_THREADS"]))

    rows = [json.loads(line) for line in open(a.train) if line.strip()]
    data = Dataset.from_list([{"prompt": r["messages"], "answer": r["answer"]} for r in rows])

    def exact(completions, answer, **_):
        texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if t == ans else 0.0 for t, ans in zip(texts, answer)]

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    cfg = GRPOConfig(
        output_dir=a.out,
        per_device_train_batch_size=a.batch * a.n,  # completions per optimizer step
        num_generations=a.n,
        steps_per_generation=1,
        gradient_accumulation_steps=1,
        max_completion_length=a.max_tokens,
        temperature=a.temperature,
        learning_rate=a.lr,
        lr_scheduler_type="constant",
        beta=0.0,
        loss_type="grpo",
        max_steps=a.steps,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=a.seed,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=exact, args=cfg, train_dataset=data)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    samples = a.steps * a.batch * a.n
    print(json.dumps({"steps": a.steps, "samples": samples, "seconds": seconds, "samples_per_s": samples / seconds}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
