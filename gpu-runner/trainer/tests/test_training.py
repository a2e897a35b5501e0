"""Tiny real runs in process: steps move every trainable parameter, sampling and training agree on
log-probs, checkpoints restore exactly, saved models load with transformers and peft, NaNs skip."""

import json

import pytest
import torch
from conftest import rl_sequences, user

PROMPTS = [user("What is 12+7?"), user("What is 3+4?")]  # different lengths: left padding


def trainable(server) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in server.engine.model.named_parameters() if p.requires_grad}


def rl_step(server, loss="ppo", lr=1e-2):
    sampled = server("sample", prompts=PROMPTS, n=2, max_tokens=6)
    fb = server("forward_backward", loss=loss, sequences=rl_sequences(sampled, [1.0, -1.0]))
    step = server("optim_step", learning_rate=lr, max_grad_norm=1.0)
    return fb, step


def test_one_rl_step_moves_every_parameter_full_fine_tuning(tiny, server):
    server("init", model_path=str(tiny), lora=None, seed=0)
    before = trainable(server)
    fb, step = rl_step(server)
    assert torch.isfinite(torch.tensor(fb["loss"])) and not step["skipped"]
    after = trainable(server)
    frozen = [n for n in before if torch.equal(before[n], after[n])]
    assert frozen == [], f"parameters that did not move: {frozen}"


def test_lora_steps_move_every_adapter_parameter(tiny, server):
    info = server("init", model_path=str(tiny), lora={"rank": 4, "alpha": 8, "target_modules": "all-linear"}, seed=0)
    before = trainable(server)
    assert all("lora_" in n for n in before) and info["n_trainable"] == sum(t.numel() for t in before.values())
    fb, _ = rl_step(server)
    assert torch.isfinite(torch.tensor(fb["loss"]))
    after_one = trainable(server)
    # LoRA starts with B = 0, so A gets no gradient on the first step: B moves first, A from step two.
    assert [n for n in before if "lora_B" in n and torch.equal(before[n], after_one[n])] == []
    rl_step(server)
    after_two = trainable(server)
    assert [n for n in before if torch.equal(before[n], after_two[n])] == []
    base = {n: p for n, p in server.engine.model.named_parameters() if not p.requires_grad}
    assert base and all(not p.requires_grad for p in base.values())


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_logprobs_equal_recomputed_logprobs(tiny, server, temperature):
    server("init", model_path=str(tiny), lora={"rank": 4}, seed=1)
    rl_step(server)  # a non-zero adapter, so LoRA is in the computation
    sampled = server("sample", prompts=PROMPTS, n=4, max_tokens=12, temperature=temperature, top_p=0.9)
    seqs = rl_sequences(sampled, [0.0])
    fb = server("forward_backward", loss="importance_sampling", sequences=seqs, return_logprobs=True, temperature=temperature)
    for seq, recomputed in zip(seqs, fb["logprobs"]):
        assert len(recomputed) == len(seq["sampling_logprobs"])
        assert max(abs(a - b) for a, b in zip(recomputed, seq["sampling_logprobs"])) < 1e-4


def test_sample_shapes_stop_and_seed(tiny, server):
    server("init", model_path=str(tiny), seed=0)
    out = server("sample", prompts=PROMPTS, n=3, max_tokens=4, seed=7)
    again = server("sample", prompts=PROMPTS, n=3, max_tokens=4, seed=7)
    assert out == again
    for r in out["results"]:
        assert len(r["completions"]) == 3
        for c in r["completions"]:
            assert len(c["token_ids"]) == len(c["logprobs"]) <= 4 and all(lp <= 0 for lp in c["logprobs"])
            eos_end = c["token_ids"][-1] in server.engine.eos_token_ids()
            assert c["finish_reason"] == ("stop" if eos_end else "length")
    greedy = server("sample", prompts=PROMPTS[:1], n=2, max_tokens=5, temperature=0)["results"][0]["completions"]
    assert greedy[0]["token_ids"] == greedy[1]["token_ids"]
    # a stop string ends the completion; the text stops before it
    long = server("sample", prompts=PROMPTS[:1], n=8, max_tokens=20, seed=1)["results"][0]["completions"]
    texts = [c["text"] for c in long if c["finish_reason"] == "length" and len(c["text"]) > 3]
    assert texts, "expected some long completions from the barely trained model"
    stop = texts[0][2]
    stopped = server("sample", prompts=PROMPTS[:1], n=8, max_tokens=20, seed=1, stop=[stop])["results"][0]["completions"]
    assert stop not in stopped[long.index(next(c for c in long if c["text"] == texts[0]))]["text"]
    assert all(stop not in c["text"] for c in stopped)


def test_cross_entropy_trains_on_the_assistant_tokens_only(tiny, server):
    server("init", model_path=str(tiny), seed=0)
    conv = {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}
    ids, mask = server.engine.chat_tokens_and_mask(conv["messages"], "sequences[0]")
    tok = server.engine.tokenizer
    assert tok.decode([t for t, m in zip(ids, mask) if m]) == "4<|im_end|>"
    fb = server("forward_backward", loss="cross_entropy", sequences=[conv], return_logprobs=True)
    assert fb["n_tokens"] == 2 and fb["loss"] == pytest.approx(-sum(fb["logprobs"][0]) / 2, abs=1e-5)
    ids_form = {"prompt_token_ids": ids[: mask.index(1)], "completion_token_ids": ids[mask.index(1) :]}
    fb2 = server("forward_backward", loss="cross_entropy", sequences=[ids_form])
    assert fb2["loss"] == pytest.approx(fb["loss"], abs=1e-6)


def test_save_then_resume_restores_step_weights_optimizer_and_rng(tiny, server, tmp_path):
    from conftest import InProcess

    server("init", model_path=str(tiny), lora={"rank": 4}, seed=5, optimizer={"lr": 1e-3, "weight_decay": 0.01})
    rl_step(server)
    server("save", path=str(tmp_path / "ckpt"), merged=False, include_optimizer=True)
    fb_a, step_a = rl_step(server)  # continues: sample -> train -> step
    weights_a = trainable(server)

    resumed = InProcess()
    info = resumed("init", model_path=str(tiny), lora={"rank": 4}, seed=999, resume={"path": str(tmp_path / "ckpt")})
    assert info["step"] == 1
    fb_b, step_b = rl_step(resumed)
    assert (fb_b, step_b) == (fb_a, step_a)  # same samples (RNG), same loss, same step
    weights_b = trainable(resumed)
    assert all(torch.equal(weights_a[n], weights_b[n]) for n in weights_a)  # same AdamW moments
    sa, sb = server.engine.optimizer.state_dict()["state"], resumed.engine.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)


def test_full_fine_tuning_resume(tiny, server, tmp_path):
    from conftest import InProcess

    server("init", model_path=str(tiny), seed=2)
    rl_step(server)
    server("save", path=str(tmp_path / "full"), merged=False, include_optimizer=True)
    rl_step(server)
    resumed = InProcess()
    assert resumed("init", model_path=str(tiny), seed=2, resume={"path": str(tmp_path / "full")})["step"] == 1
    rl_step(resumed)
    a, b = trainable(server), trainable(resumed)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_merged_model_and_adapter_load_with_transformers_and_peft(tiny, server, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    server("init", model_path=str(tiny), lora={"rank": 4, "alpha": 16}, seed=3)
    rl_step(server, lr=5e-2)
    rl_step(server, lr=5e-2)
    server("save", path=str(tmp_path / "ck"), merged=True, include_optimizer=False)
    ids = torch.tensor([server.engine.encode("user\nWhat is 1+1?")])
    server.engine.model.eval()
    with torch.no_grad():
        want = server.engine.model(input_ids=ids).logits
        with server.engine.model.disable_adapter():
            base_logits = server.engine.model(input_ids=ids).logits
    assert not torch.allclose(want, base_logits, atol=1e-4)  # the adapter does something

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "ck" / "merged").eval()
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, want, atol=1e-4)
    tok = AutoTokenizer.from_pretrained(tmp_path / "ck" / "merged")
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith("<|im_start|>user")

    base = AutoModelForCausalLM.from_pretrained(tiny)
    adapted = PeftModel.from_pretrained(base, tmp_path / "ck" / "adapter").eval()
    with torch.no_grad():
        assert torch.allclose(adapted(input_ids=ids).logits, want, atol=1e-5)
    config = json.loads((tmp_path / "ck" / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 16


def test_failed_save_keeps_the_existing_checkpoint(tiny, server, tmp_path, monkeypatch):
    server("init", model_path=str(tiny), lora={"rank": 2}, seed=0)
    first = server("save", path=str(tmp_path / "ck"))
    before = {f.name: f.stat().st_size for f in (tmp_path / "ck").rglob("*")}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    reply = server.raw("save", path=str(tmp_path / "ck"))
    assert reply["ok"] is False and reply["error"]["type"] == "io_error" and "disk full" in reply["error"]["message"]
    assert {f.name: f.stat().st_size for f in (tmp_path / "ck").rglob("*")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp folder left behind
    monkeypatch.undo()
    second = server("save", path=str(tmp_path / "ck"))  # replacing an existing checkpoint works
    assert [f["name"] for f in second["files"]] == [f["name"] for f in first["files"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_non_finite_gradients_skip_the_step(tiny, server):
    server("init", model_path=str(tiny), seed=0)
    rl_step(server)
    before = trainable(server)
    state_before = {k: v["step"].clone() for k, v in server.engine.optimizer.state_dict()["state"].items()}

    # 1. a gradient that is NaN (e.g. a bf16 overflow): optim_step skips and clears it
    sampled = server("sample", prompts=PROMPTS, n=1, max_tokens=4)
    server("forward_backward", loss="ppo", sequences=rl_sequences(sampled, [1.0]))
    next(p for p in server.engine.params if p.grad is not None).grad[0].fill_(float("nan"))
    assert server("optim_step", learning_rate=1e-2, max_grad_norm=1.0) == {"step": 1, "grad_norm": None, "skipped": True}
    assert all(p.grad is None for p in server.engine.params)
    after = trainable(server)
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert {k: v["step"] for k, v in server.engine.optimizer.state_dict()["state"].items()} == state_before

    # 2. a loss that overflows: forward_backward answers nan_loss and the next step is skipped
    huge = [{**s, "sampling_logprobs": [-200.0] * len(s["sampling_logprobs"])} for s in rl_sequences(sampled, [1.0])]  # ratio e^200
    reply = server.raw("forward_backward", loss="importance_sampling", sequences=huge)
    assert reply["ok"] is False and reply["error"]["type"] == "nan_loss"
    assert server("optim_step", learning_rate=1e-2)["skipped"] is True
    # 3. and training goes on
    step = rl_step(server)[1]
    assert step["step"] == 2 and step["skipped"] is False and step["grad_norm"] > 0
