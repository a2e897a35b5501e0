"""Losses against hand-computed values.

The policy's own log-probs are read first (advantage 0 leaves no gradient); the sampler's log-probs
are then set to those minus chosen offsets, so every ratio r = exp(logp - sampling_logp) is a
number we picked, and each loss can be written out by hand.
"""

import math

import pytest
import torch

COMPLETIONS = [[5, 6, 7], [8, 9]]  # two sequences: 3 and 2 completion tokens


def policy_logprobs(server, prompt: list[int]) -> list[list[float]]:
    seqs = [{"prompt_token_ids": prompt, "completion_token_ids": c, "sampling_logprobs": [-1.0] * len(c), "advantage": 0.0} for c in COMPLETIONS]
    fb = server("forward_backward", loss="importance_sampling", sequences=seqs, return_logprobs=True)
    server("optim_step", learning_rate=0.0)  # clears the (zero) gradients
    return fb["logprobs"]


def with_ratios(prompt, logprobs, ratios, advantages):
    return [
        {
            "prompt_token_ids": prompt,
            "completion_token_ids": c,
            "sampling_logprobs": [min(0.0, lp - math.log(r)) for lp, r in zip(lps, rs)],
            "advantage": a,
        }
        for c, lps, rs, a in zip(COMPLETIONS, logprobs, ratios, advantages)
    ]


@pytest.fixture
def setup(tiny, server):
    server("init", model_path=str(tiny), lora={"rank": 4}, seed=0)
    prompt = server.engine.encode(server.engine.render([{"role": "user", "content": "What is 1+2?"}], True))
    lps = policy_logprobs(server, prompt)
    # the offsets must keep sampling log-probs <= 0: the tiny model's log-probs are far below log(1.5)
    assert max(max(x) for x in lps) < -1.0
    return server, prompt, lps


RATIOS = [[1.5, 1.0, 0.5], [1.1, 0.7]]
ADVANTAGES = [2.0, -1.0]


def test_importance_sampling_loss(setup):
    server, prompt, lps = setup
    fb = server("forward_backward", loss="importance_sampling", sequences=with_ratios(prompt, lps, RATIOS, ADVANTAGES))
    # token mean over the 5 completion tokens of -r * A
    want = -(2.0 * (1.5 + 1.0 + 0.5) + -1.0 * (1.1 + 0.7)) / 5
    assert fb["loss"] == pytest.approx(want, abs=1e-4)
    assert fb["n_tokens"] == 5 and fb["n_sequences"] == 2 and fb["clip_fraction"] == 0.0 and fb["kl"] == 0.0
    seq = server(
        "forward_backward", loss="importance_sampling", sequences=with_ratios(prompt, lps, RATIOS, ADVANTAGES), loss_aggregation="sequence_mean"
    )
    want_seq = (-(2.0 * 3.0) / 3 + -(-1.0 * 1.8) / 2) / 2  # mean over tokens, then over sequences
    assert seq["loss"] == pytest.approx(want_seq, abs=1e-4)


def test_ppo_clipped_loss_and_clip_fraction(setup):
    server, prompt, lps = setup
    fb = server("forward_backward", loss="ppo", clip_epsilon=0.2, sequences=with_ratios(prompt, lps, RATIOS, ADVANTAGES))
    # per token -min(r A, clip(r, 0.8, 1.2) A)
    #   A = 2:  r 1.5 -> min(3.0, 2.4) = 2.4;  r 1.0 -> 2.0;  r 0.5 -> min(1.0, 1.6) = 1.0
    #   A = -1: r 1.1 -> min(-1.1, -1.1) = -1.1;  r 0.7 -> min(-0.7, -0.8) = -0.8
    want = -(2.4 + 2.0 + 1.0 - 1.1 - 0.8) / 5
    assert fb["loss"] == pytest.approx(want, abs=1e-4)
    assert fb["clip_fraction"] == pytest.approx(3 / 5)  # |r - 1| > 0.2 for 1.5, 0.5, 0.7


def test_ppo_gives_no_gradient_where_the_clip_is_active(setup):
    server, prompt, lps = setup
    clipped = with_ratios(prompt, lps, [[1.5, 1.5, 1.5], [0.5, 0.5]], [1.0, -1.0])  # all past the clip, on its flat side
    server("forward_backward", loss="ppo", sequences=clipped)
    assert server("optim_step", learning_rate=1e-3)["grad_norm"] == 0.0
    server("forward_backward", loss="importance_sampling", sequences=clipped)
    assert server("optim_step", learning_rate=0.0)["grad_norm"] > 0.0


def test_kl_penalty_k3_against_the_reference(setup):
    server, prompt, lps = setup
    seqs = with_ratios(prompt, lps, [[1.0] * 3, [1.0] * 2], [0.0, 0.0])
    fb = server("forward_backward", loss="ppo", sequences=seqs, kl_coef=0.5)
    assert fb["kl"] == 0.0 and fb["loss"] == pytest.approx(0.0, abs=1e-7)  # the adapter is still zero
    server("optim_step", learning_rate=0.0)
    for p in server.engine.params:  # move the policy away from the reference
        torch.nn.init.normal_(p.data, std=0.3)
    fb = server("forward_backward", loss="ppo", sequences=seqs, kl_coef=0.5, return_logprobs=True)
    server("optim_step", learning_rate=0.0)
    engine = server.engine
    ids = [prompt + c for c in COMPLETIONS]
    with torch.no_grad():
        ref_BT = engine.reference_logprobs(ids, 1.0)
    k3 = []
    for b, c in enumerate(COMPLETIONS):
        for t, lp in enumerate(fb["logprobs"][b]):
            log_r = ref_BT[b, len(prompt) + t].item() - lp
            k3.append(math.exp(log_r) - log_r - 1)
    assert fb["kl"] == pytest.approx(sum(k3) / 5, rel=1e-4) and fb["kl"] > 0
    # with zero advantages the loss is the KL term alone
    assert fb["loss"] == pytest.approx(0.5 * sum(k3) / 5, rel=1e-4)


def test_entropy_is_the_policy_entropy(setup):
    server, prompt, _ = setup
    seqs = [{"prompt_token_ids": prompt, "completion_token_ids": c} for c in COMPLETIONS]
    fb = server("forward_backward", loss="cross_entropy", sequences=seqs)
    server("optim_step", learning_rate=0.0)
    model = server.engine.model
    with torch.no_grad():
        ents = []
        for c in COMPLETIONS:
            logp = torch.log_softmax(model(input_ids=torch.tensor([prompt + c])).logits[0].float(), -1)
            for t in range(len(c)):
                row = logp[len(prompt) - 1 + t]
                ents.append(-(row.exp() * row).sum().item())
    assert fb["entropy"] == pytest.approx(sum(ents) / 5, rel=1e-5)
