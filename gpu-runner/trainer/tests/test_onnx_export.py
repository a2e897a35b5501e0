"""ONNX export: the graph run in onnxruntime reproduces the PyTorch model, with and without a KV cache.

    .venv/bin/python -m pytest gpu-runner/trainer/tests/test_onnx_export.py -q

Two tiny random models are exported once each: a Llama with grouped-query attention (float32, exported in
place) and a tied-embedding Qwen2 in bfloat16 and training mode (exported from a float32 copy). References
are full no-cache forwards of the Hugging Face model itself, so a wrong cache layout cannot pass.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import onnxruntime
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_export  # noqa: E402
from make_onnx_fixture import build_model, build_tokenizer, greedy_no_cache  # noqa: E402

ATOL = 1e-4


class Export:
    def __init__(self, model, folder: Path, files: list[dict], stdout: bytes):
        self.model = model
        self.folder = folder
        self.files = files
        self.stdout = stdout
        self.shape = onnx_export.decoder_shape(model.config)
        self.session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])

    def run(self, input_ids, attention_mask, position_ids, past=None):
        """One graph call; `past=None` means an empty cache. Returns (logits, present list) as torch tensors."""
        batch = input_ids.shape[0]
        if past is None:
            empty = (batch, self.shape.num_kv_heads, 0, self.shape.head_dim)
            past = [torch.zeros(empty) for _ in range(2 * self.shape.num_layers)]
        feed = onnx_export.to_feed((input_ids, attention_mask, position_ids, past), self.shape.num_layers)
        logits, *present = self.session.run(None, feed)
        return torch.from_numpy(logits), [torch.from_numpy(t) for t in present]


def export_capturing_stdout(model, tokenizer, folder: Path) -> tuple[list[dict], bytes]:
    """Runs the export with file descriptor 1 redirected, so even C-level writes to stdout are caught."""
    with tempfile.TemporaryFile() as captured:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(captured.fileno(), 1)
        try:
            files = onnx_export.export(model, tokenizer, str(folder))
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        return files, captured.read()


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def llama(tokenizer, tmp_path_factory):
    model = build_model("llama", len(tokenizer), seed=0)
    folder = tmp_path_factory.mktemp("llama") / "onnx"
    files, stdout = export_capturing_stdout(model, tokenizer, folder)
    return Export(model, folder, files, stdout)


@pytest.fixture(scope="module")
def qwen2_bf16(tokenizer, tmp_path_factory):
    model = build_model("qwen2", len(tokenizer), seed=1).to(torch.bfloat16).train()
    before = {name: t.clone() for name, t in model.state_dict().items()}
    folder = tmp_path_factory.mktemp("qwen2") / "onnx"
    files, stdout = export_capturing_stdout(model, tokenizer, folder)
    exported = Export(model, folder, files, stdout)
    exported.state_before = before
    return exported


def positions_from_mask(attention_mask):
    """Position ids of left-padded rows: 0 at the first real token (padding gets 0 too; it is masked)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def torch_logits(model, input_ids):
    return model(input_ids=input_ids).logits.float()


def test_export_lists_its_files_and_prints_nothing_on_stdout(llama):
    names = [f["name"] for f in llama.files]
    assert names == sorted(names)
    for required in ("model.onnx", "model.onnx.data", "onnx_config.json", "config.json", "tokenizer.json"):
        assert required in names
    for f in llama.files:
        assert (llama.folder / f["name"]).stat().st_size == f["bytes"]
    assert llama.stdout == b""
    assert not [p for p in llama.folder.parent.iterdir() if p.name.startswith(".")], "staging folder left behind"


def test_onnx_config_describes_the_graph(llama, tokenizer):
    config = json.loads((llama.folder / "onnx_config.json").read_text())
    assert config["num_layers"] == 2 and config["num_kv_heads"] == 2 and config["head_dim"] == 16
    assert config["vocab_size"] == len(tokenizer)
    assert config["eos_token_ids"] == [tokenizer.eos_token_id] == [2]
    assert config["pad_token_id"] == 0 and config["bos_token_id"] == 1
    assert config["inputs"] == [i.name for i in llama.session.get_inputs()]
    assert config["outputs"] == [o.name for o in llama.session.get_outputs()]
    assert config["inputs"][:4] == ["input_ids", "attention_mask", "position_ids", "past_key_values.0.key"]
    assert config["outputs"][:3] == ["logits", "present.0.key", "present.0.value"]


def test_batch_sequence_and_past_axes_are_dynamic(llama):
    shapes = {i.name: i.shape for i in llama.session.get_inputs() + llama.session.get_outputs()}
    assert shapes["input_ids"] == ["batch", "sequence"]
    assert shapes["attention_mask"] == ["batch", "past_sequence + sequence"]
    assert shapes["past_key_values.1.value"] == ["batch", 2, "past_sequence", 16]
    assert shapes["logits"] == ["batch", "sequence", llama.shape.vocab_size]
    assert shapes["present.1.value"] == ["batch", 2, "past_sequence + sequence", 16]


def test_first_step_with_empty_past_matches_torch(llama):
    input_ids = torch.randint(3, llama.shape.vocab_size, (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(input_ids)
    logits, present = llama.run(input_ids, mask, positions_from_mask(mask))
    assert (logits - torch_logits(llama.model, input_ids)).abs().max() < ATOL
    assert all(tuple(t.shape) == (2, 2, 7, 16) for t in present)


def test_cached_steps_match_a_full_forward(llama):
    input_ids = torch.randint(3, llama.shape.vocab_size, (3, 9), generator=torch.Generator().manual_seed(2))
    full = torch_logits(llama.model, input_ids)
    # prefill 5 tokens, then 3 tokens at once with past 5, then 1 token with past 8
    past, start = None, 0
    for end in (5, 8, 9):
        mask = torch.ones(3, end, dtype=torch.long)
        positions = torch.arange(start, end).expand(3, -1)
        logits, past = llama.run(input_ids[:, start:end], mask, positions, past)
        assert (logits - full[:, start:end]).abs().max() < ATOL, f"step {start}:{end}"
        assert tuple(past[0].shape) == (3, 2, end, 16)
        start = end


def test_left_padded_batch_matches_each_prompt_alone(llama):
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
    pad = 6 - 3
    input_ids = torch.tensor([prompts[0], [0] * pad + prompts[1]])
    mask = torch.tensor([[1] * 6, [0] * pad + [1] * 3])
    logits, past = llama.run(input_ids, mask, positions_from_mask(mask))
    assert (logits[0] - torch_logits(llama.model, torch.tensor([prompts[0]]))[0]).abs().max() < ATOL
    assert (logits[1, pad:] - torch_logits(llama.model, torch.tensor([prompts[1]]))[0]).abs().max() < ATOL
    # one cached step for both rows
    step = torch.tensor([[20], [21]])
    mask = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], dim=1)
    logits, _ = llama.run(step, mask, torch.tensor([[6], [3]]), past)
    assert (logits[0, -1] - torch_logits(llama.model, torch.tensor([prompts[0] + [20]]))[0, -1]).abs().max() < ATOL
    assert (logits[1, -1] - torch_logits(llama.model, torch.tensor([prompts[1] + [21]]))[0, -1]).abs().max() < ATOL


def test_greedy_decoding_with_the_cache_matches_torch_token_for_token(llama):
    prompt = [4, 40, 148, 141]
    expected, margin = greedy_no_cache(llama.model, prompt, 16)
    assert margin > 1e-3
    ids, past = list(prompt), None
    input_ids = torch.tensor([prompt])
    for _ in range(16):
        mask = torch.ones(1, len(ids), dtype=torch.long)
        positions = torch.arange(len(ids) - input_ids.shape[1], len(ids)).unsqueeze(0)
        logits, past = llama.run(input_ids, mask, positions, past)
        token = int(logits[0, -1].argmax())
        ids.append(token)
        input_ids = torch.tensor([[token]])
    assert ids[len(prompt) :] == expected


def test_bf16_training_model_is_exported_as_float32_and_left_untouched(qwen2_bf16):
    model = qwen2_bf16.model
    assert model.training and next(model.parameters()).dtype == torch.bfloat16
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, qwen2_bf16.state_before[name]), name
    assert model.lm_head.weight is model.model.embed_tokens.weight
    reference = build_model("qwen2", model.config.vocab_size, seed=1)
    reference.load_state_dict({k: v.float() for k, v in qwen2_bf16.state_before.items()})
    input_ids = torch.tensor([[5, 6, 7, 8, 9]])
    mask = torch.ones_like(input_ids)
    logits, _ = qwen2_bf16.run(input_ids, mask, positions_from_mask(mask))
    assert logits.dtype == torch.float32
    assert (logits - torch_logits(reference.eval(), input_ids)).abs().max() < ATOL
    data_bytes = next(f["bytes"] for f in qwen2_bf16.files if f["name"] == "model.onnx.data")
    n_params = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    assert data_bytes < 4 * n_params * 1.1, "tied embedding stored twice"
    assert qwen2_bf16.stdout == b""


def test_refuses_a_peft_model(tokenizer, tmp_path):
    from peft import LoraConfig, get_peft_model

    model = build_model("llama", len(tokenizer), seed=0)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    with pytest.raises(TypeError, match="merge_and_unload"):
        onnx_export.export(peft_model, tokenizer, str(tmp_path / "onnx"))


def test_refuses_to_replace_a_folder_that_is_not_an_export(tokenizer, tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "notes.txt").write_text("keep me")
    model = build_model("llama", len(tokenizer), seed=0)
    with pytest.raises(FileExistsError):
        onnx_export.export(model, tokenizer, str(tmp_path / "onnx"))
    assert (tmp_path / "onnx" / "notes.txt").read_text() == "keep me"


def test_graph_takes_int64_ids_and_float32_cache(llama):
    types = {i.name: i.type for i in llama.session.get_inputs() + llama.session.get_outputs()}
    assert types["input_ids"] == types["attention_mask"] == types["position_ids"] == "tensor(int64)"
    assert types["past_key_values.0.key"] == types["present.0.key"] == types["logits"] == "tensor(float)"


def test_an_earlier_export_is_replaced_whole(tmp_path):
    target, new = tmp_path / "onnx", tmp_path / ".onnx.staging"
    target.mkdir()
    (target / "onnx_config.json").write_text("{}")
    (target / "stale.bin").write_text("old")
    new.mkdir()
    (new / "model.onnx").write_text("new")
    onnx_export._check_target(target)  # an earlier export may be replaced
    onnx_export._replace_dir(new, target)
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx"]
