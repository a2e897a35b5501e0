"""The engine over its real stdio protocol: a child process, JSON lines on its pipes."""

import json
import shutil

import pytest
from conftest import EngineProcess, rl_sequences, user


def test_a_whole_step_over_stdio_then_shutdown(tiny, spawn_engine, tmp_path):
    eng = spawn_engine()
    assert eng.ready == {"id": 0, "ok": True, "result": {"ready": True, "protocol": 1}}
    info = eng("init", model_path=str(tiny), lora={"rank": 4, "alpha": 8}, seed=3, device="cpu")
    assert info["model_type"] == "llama" and info["step"] == 0 and info["device"] == "cpu"
    assert 0 < info["n_trainable"] < info["n_params"] and info["dtype"] == "float32"
    sampled = eng("sample", prompts=[user("What is 1+2?"), user("What is 30+4?")], n=3, max_tokens=5)
    assert [len(r["completions"]) for r in sampled["results"]] == [3, 3]
    fb = eng("forward_backward", loss="ppo", sequences=rl_sequences(sampled, [1.0, -0.5, -0.5]))
    assert fb["n_sequences"] == 6 and fb["loss"] == fb["loss"]
    step = eng("optim_step", learning_rate=1e-3, max_grad_norm=1.0)
    assert step == {"step": 1, "grad_norm": step["grad_norm"], "skipped": False} and step["grad_norm"] > 0
    saved = eng("save", path=str(tmp_path / "ckpt"), merged=True, include_optimizer=True)
    names = {f["name"] for f in saved["files"]}
    assert {"merged/model.safetensors", "adapter/adapter_model.safetensors", "trainer_state.pt"} <= names
    assert eng("shutdown") == {}
    assert eng.proc.wait(timeout=30) == 0


def test_stdout_carries_only_replies_and_eof_exits_cleanly(tiny, spawn_engine):
    eng = spawn_engine()
    eng("init", model_path=str(tiny), lora=None)
    eng.proc.stdin.close()  # the supervisor went away
    assert eng.proc.wait(timeout=30) == 0
    assert eng.proc.stdout.read() == ""  # nothing but the replies already read


@pytest.fixture(scope="module")
def shared_engine():
    """One process for the error tests: starting an engine (torch + transformers imports) is the slow part."""
    eng = EngineProcess()
    yield eng
    eng.close()


def test_bad_requests_are_answered_not_crashed_on(tiny, shared_engine):
    eng = shared_engine

    def error(reply: dict) -> tuple[str, str]:
        assert reply["ok"] is False
        return reply["error"]["type"], reply["error"]["message"]

    assert error(eng.send_line("{not json"))[0] == "invalid_request"
    assert error(eng.send_line('{"id": 1, "op": "init", "seed": NaN}'))[0] == "invalid_request"
    assert error(eng.send_line("[1, 2]"))[0] == "invalid_request"
    kind, msg = error(eng.raw("train"))
    assert kind == "invalid_request" and "op" in msg
    kind, msg = error(eng.raw("sample", prompts=[user("hi")]))
    assert kind == "invalid_request" and "init first" in msg
    kind, msg = error(eng.raw("init"))
    assert kind == "invalid_request" and "model_path is required" in msg
    kind, msg = error(eng.raw("init", model_path=str(tiny), lora={"rank": 0}))
    assert kind == "invalid_request" and "lora.rank" in msg
    kind, msg = error(eng.raw("init", model_path=str(tiny), optimizer={"lr": "fast"}))
    assert kind == "invalid_request" and "optimizer.lr" in msg
    kind, msg = error(eng.raw("init", model_path=str(tiny), lora={"rank": 2, "target_modules": ["no_such_layer"]}))
    assert kind == "invalid_request" and "lora.target_modules" in msg

    eng("init", model_path=str(tiny))
    cases = [
        (dict(op="sample", prompts=[user("hi")], n=0), "n must be >= 1"),
        (dict(op="sample", prompts=[user("hi")], temperature=-1), "temperature"),
        (dict(op="sample", prompts=[user("hi")], top_p=0), "top_p"),
        (dict(op="sample", prompts=[{"messages": [{"role": "user", "content": 3}]}]), "prompts[0].messages[0].content"),
        (dict(op="sample", prompts=[user("hi")], max_tokens=10_000), "max_tokens"),
        (dict(op="sample", prompts=[user("hi")], stop="x"), "stop"),
        (dict(op="sample", prompts=[user("hi")], temprature=1.0), "temprature"),
        (dict(op="forward_backward", loss="dpo", sequences=[]), "loss"),
        (dict(op="forward_backward", loss="ppo", sequences=[]), "sequences must not be empty"),
        (
            dict(op="forward_backward", loss="ppo", sequences=[{"prompt_token_ids": [1], "completion_token_ids": [2, 3], "sampling_logprobs": [-1.0], "advantage": 1.0}]),
            "sequences[0].sampling_logprobs",
        ),
        (
            dict(op="forward_backward", loss="ppo", sequences=[{"prompt_token_ids": [1], "completion_token_ids": [99999], "sampling_logprobs": [-1.0], "advantage": 1.0}]),
            "sequences[0].completion_token_ids[0]",
        ),
        (
            dict(op="forward_backward", loss="importance_sampling", sequences=[{"prompt_token_ids": [1], "completion_token_ids": [2], "sampling_logprobs": [-1.0]}]),
            "sequences[0].advantage is required",
        ),
        (dict(op="forward_backward", loss="cross_entropy", sequences=[user("no assistant turn")]), "no assistant turn"),
        (dict(op="forward_backward", loss="importance_sampling", sequences=[{"prompt_token_ids": [1], "completion_token_ids": [2], "sampling_logprobs": [-1.0], "advantage": 1.0}], kl_coef=0.1), "kl_coef"),
        (dict(op="optim_step"), "learning_rate is required"),
        (dict(op="optim_step", learning_rate=1e-3, max_grad_norm=-1), "max_grad_norm"),
        (dict(op="save"), "path is required"),
        (dict(op="init", model_path=str(tiny), resume={"path": "/nonexistent"}), "resume.path"),
    ]
    for request, needle in cases:
        kind, msg = error(eng.send_line(json.dumps({"id": 5, **request})))
        assert kind == "invalid_request" and needle in msg, (request, msg)
    # a failed init leaves the loaded model in place
    assert eng("optim_step", learning_rate=0.0)["step"] == 1


def test_broken_model_folders_give_model_error(tiny, shared_engine, tmp_path):
    no_weights = tmp_path / "no_weights"
    shutil.copytree(tiny, no_weights)
    (no_weights / "model.safetensors").unlink()
    unknown = tmp_path / "unknown_arch"
    shutil.copytree(tiny, unknown)
    config = json.loads((unknown / "config.json").read_text())
    (unknown / "config.json").write_text(json.dumps({**config, "model_type": "no-such-arch", "architectures": ["NoSuch"]}))
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 100)

    eng = shared_engine
    for folder, needle in [
        (tmp_path / "missing", "no such folder"),
        (tmp_path, "no config.json"),
        (no_weights, "no weights"),
        (unknown, "architecture"),
        (corrupt, "cannot load the model"),
    ]:
        reply = eng.raw("init", model_path=str(folder))
        assert reply["ok"] is False and reply["error"]["type"] == "model_error", reply
        assert str(folder) in reply["error"]["message"] and needle in reply["error"]["message"], reply


def test_a_model_named_on_the_hub_loads_from_the_hf_cache(tiny, spawn_engine, tmp_path, monkeypatch):
    """`model_path` may be a Hub repo id: huggingface_hub fetches it, or (offline, as here) finds it in the HF cache
    laid out exactly as a download leaves it. An id that is neither a folder nor cached is a model_error naming it."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--rft-test--tiny-arith"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(tiny, repo / "snapshots" / revision)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    eng = spawn_engine()
    info = eng("init", model_path="rft-test/tiny-arith", lora={"rank": 4}, seed=3, device="cpu")
    assert info["model_type"] == "llama" and info["step"] == 0
    assert len(eng("sample", prompts=[user("What is 1+2?")], n=2, max_tokens=3)["results"][0]["completions"]) == 2
    missing = spawn_engine().raw("init", model_path="rft-test/not-cached", lora=None, device="cpu")
    assert not missing["ok"] and missing["error"]["type"] == "model_error"
    assert "rft-test/not-cached" in missing["error"]["message"]
