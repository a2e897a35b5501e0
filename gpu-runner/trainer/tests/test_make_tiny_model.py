"""The tiny model builder writes a real HF model folder and a task whose answers a string_check can grade."""

import json

from transformers import AutoConfig, AutoTokenizer


def test_hf_layout_tokenizer_and_task_files(tiny):
    names = {p.name for p in tiny.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} <= names
    assert AutoConfig.from_pretrained(tiny).model_type == "llama"
    tok = AutoTokenizer.from_pretrained(tiny)
    digits = tok("1234567890", add_special_tokens=False)["input_ids"]
    assert len(digits) == 10 and tok.decode(digits) == "1234567890"  # every digit its own token
    text = tok.apply_chat_template([{"role": "user", "content": "What is 47+38?"}], add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nWhat is 47+38?<|im_end|><|im_start|>assistant\n"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text  # lossless round trip
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"

    data = tiny.parent / "data"
    train = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    valid = [json.loads(line) for line in (data / "valid.jsonl").read_text().splitlines()]
    assert train and valid
    for row in train + valid:
        question = row["messages"][0]["content"]
        a, b = question.removeprefix("What is ").removesuffix("?").split("+")
        assert row["answer"] == str(int(a) + int(b)) and row["messages"][0]["role"] == "user"
    asked = lambda rows: {r["messages"][0]["content"] for r in rows}  # noqa: E731
    assert not asked(train) & asked(valid)  # held out
