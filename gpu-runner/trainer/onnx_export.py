"""ONNX export of a causal LM with a KV cache, for greedy decoding without Python (onnxruntime-node).

    from onnx_export import export
    files = export(model, tokenizer, "/data/run/onnx")   # [{"name": "model.onnx", "bytes": ...}, ...]

The folder it writes:
    model.onnx, model.onnx.data   the decoder graph (opset 18) and its weights (float32, external data)
    onnx_config.json              what Node needs to drive the graph: layers, kv heads, head dim, eos ids, io names
    config.json                   the Hugging Face model config, for tools that expect it
    tokenizer files               whatever `tokenizer.save_pretrained` writes (omitted when tokenizer is None)

Graph contract (the names PROTOCOL.md's `export_onnx` promises). Shapes: B batch, T new tokens, P past
tokens (0 on the first step), H key/value heads, D head dim, V vocab, N layer index:
    inputs   input_ids               [B, T]        int64
             attention_mask          [B, P + T]    int64, 1 = real token, 0 = padding (left padding works)
             position_ids            [B, T]        int64
             past_key_values.N.key   [B, H, P, D]  float32 (same for .value)
    outputs  logits                  [B, T, V]     float32
             present.N.key           [B, H, P + T, D]  float32: feed back as past_key_values.N.key

How: a small wrapper module takes the flat past tensors, fills the `DynamicCache` transformers 5.x expects,
runs the model and flattens the updated cache back out; `torch.onnx.export` (the dynamo exporter) traces
it with batch, new-token and past axes marked dynamic. The traced example uses P = 4, never 0 or 1, so that
no axis is specialised; an empty past at run time goes through the same graph.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx_ir
import torch
from torch import nn

ONNX_FILE = "model.onnx"
ONNX_DATA_FILE = "model.onnx.data"
CONFIG_FILE = "onnx_config.json"
FORMAT = "rft-onnx-decoder"
FORMAT_VERSION = 1
# Attention kernels that trace to plain ONNX ops; flash/flex kernels do not.
_EXPORTABLE_ATTENTION = ("sdpa", "eager")
# Logits of the re-run export may differ from PyTorch by this much, times max(1, max |logit|).
_VERIFY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class DecoderShape:
    """The dimensions of the KV cache, read from the model config."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int


def input_names(num_layers: int) -> list[str]:
    """Graph input names, in graph order."""
    past = [f"past_key_values.{n}.{kind}" for n in range(num_layers) for kind in ("key", "value")]
    return ["input_ids", "attention_mask", "position_ids", *past]


def output_names(num_layers: int) -> list[str]:
    """Graph output names, in graph order."""
    return ["logits", *(f"present.{n}.{kind}" for n in range(num_layers) for kind in ("key", "value"))]


def decoder_shape(config: Any) -> DecoderShape:
    """Reads the cache dimensions from a Llama/Qwen2-style config; refuses sliding-window layers."""
    text_config = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text_config, "layer_types", None) or []
    if any(kind != "full_attention" for kind in layer_types):
        # A sliding-window cache drops old keys, so `present` would not be `past + new` as the contract says.
        raise ValueError(f"only full-attention layers can be exported, got layer_types={sorted(set(layer_types))}")
    num_heads = text_config.num_attention_heads
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // num_heads
    return DecoderShape(
        num_layers=text_config.num_hidden_layers,
        num_kv_heads=getattr(text_config, "num_key_value_heads", None) or num_heads,
        head_dim=head_dim,
        vocab_size=text_config.vocab_size,
    )


class DecoderWithPast(nn.Module):
    """Flat-tensor face of a Hugging Face causal LM: (ids, mask, positions, *past) -> (logits, *present)."""

    def __init__(self, model: nn.Module, num_layers: int):
        super().__init__()
        self.model = model
        self.num_layers = num_layers

    def forward(
        self,
        input_ids_BT: torch.Tensor,
        attention_mask_BS: torch.Tensor,
        position_ids_BT: torch.Tensor,
        past_L2: list[torch.Tensor],
    ) -> tuple[torch.Tensor, ...]:
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for n in range(self.num_layers):
            cache.layers[n].update(past_L2[2 * n], past_L2[2 * n + 1])
        out = self.model(
            input_ids=input_ids_BT,
            attention_mask=attention_mask_BS,
            position_ids=position_ids_BT,
            past_key_values=cache,
            use_cache=True,
        )
        present = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
        return (out.logits, *present)


def export(model: nn.Module, tokenizer: Any, path: str, opset: int = 18) -> list[dict[str, Any]]:
    """Exports `model` (a plain, merged transformers causal LM) and `tokenizer` to an ONNX folder at `path`.

    Writes to a temporary folder beside `path`, checks the graph against PyTorch with onnxruntime, then
    renames it into place. Returns `[{"name", "bytes"}]` for every file written, sorted by name. Nothing
    is printed to stdout (the engine's protocol channel). The caller's model is left as it was found.
    """
    if hasattr(model, "merge_and_unload"):
        raise TypeError("pass the merged model (peft_model.merge_and_unload() on a copy), not a PeftModel")
    shape = decoder_shape(model.config)
    target = Path(path)
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with _float32_cpu_eval(model) as export_model, contextlib.redirect_stdout(sys.stderr):
            decoder = DecoderWithPast(export_model, shape.num_layers).eval()
            started = time.perf_counter()
            _export_graph(decoder, shape, staging / ONNX_FILE, opset)
            print(f"onnx_export: graph exported in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            max_diff = verify(decoder, shape, staging / ONNX_FILE)
            print(f"onnx_export: onnxruntime vs torch max |logits diff| = {max_diff:.2e}", file=sys.stderr)
            export_model.config.save_pretrained(staging)
            if tokenizer is not None:
                tokenizer.save_pretrained(staging)
        _write_onnx_config(staging / CONFIG_FILE, model, tokenizer, shape, opset)
        staging.chmod(0o755)  # mkdtemp makes it private; the export is meant to be read by other processes
        _replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return list_files(target)


def list_files(folder: Path) -> list[dict[str, Any]]:
    """`[{"name", "bytes"}]` for every file under `folder`, names relative to it, sorted."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sorted(
        ({"name": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size} for p in files),
        key=lambda f: f["name"],
    )


def _replace_dir(new: Path, target: Path) -> None:
    # The earlier export is moved aside, not deleted, until the new one is in place.
    if not target.exists():
        os.rename(new, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}"
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_target(target: Path) -> None:
    # Replacing a previous export is fine (a retried request); replacing anything else is not ours to do.
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / CONFIG_FILE).exists())):
        raise FileExistsError(f"{target} exists and is not an earlier ONNX export")


def _export_graph(decoder: DecoderWithPast, shape: DecoderShape, onnx_path: Path, opset: int) -> None:
    batch = torch.export.Dim("batch", min=1)
    new = torch.export.Dim("sequence", min=1)
    past = torch.export.Dim("past_sequence", min=0)
    # The mask's length is past + new, which a named Dim cannot say (torch.export only derives a Dim from
    # one other); a named free Dim fails transformers' mask guards and makes torch.onnx trace a second time.
    total = torch.export.Dim.DYNAMIC
    dynamic_shapes = {
        "input_ids_BT": {0: batch, 1: new},
        "attention_mask_BS": {0: batch, 1: total},
        "position_ids_BT": {0: batch, 1: new},
        "past_L2": [{0: batch, 2: past}] * (2 * shape.num_layers),
    }
    program = torch.onnx.export(
        decoder,
        sample_inputs(shape, batch=2, new=3, past=4),
        dynamic_shapes=dynamic_shapes,
        input_names=input_names(shape.num_layers),
        output_names=output_names(shape.num_layers),
        opset_version=opset,
        dynamo=True,
        external_data=True,
        optimize=True,
        verbose=False,
    )
    mask = program.model.graph.inputs[1]
    mask.shape = onnx_ir.Shape([mask.shape[0], "past_sequence + sequence"])  # name the DYNAMIC axis for readers
    program.save(str(onnx_path), external_data=True)


def sample_inputs(
    shape: DecoderShape, batch: int, new: int, past: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Random decoder inputs: (input_ids [B,T], attention_mask [B,P+T], position_ids [B,T], past [2L x B,H,P,D])."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, shape.vocab_size, (batch, new), generator=generator)
    attention_mask = torch.ones(batch, past + new, dtype=torch.long)
    position_ids = torch.arange(past, past + new).expand(batch, new).contiguous()
    kv = (batch, shape.num_kv_heads, past, shape.head_dim)
    past_kv = [torch.randn(kv, generator=generator) for _ in range(2 * shape.num_layers)]
    return input_ids, attention_mask, position_ids, past_kv


def verify(decoder: DecoderWithPast, shape: DecoderShape, onnx_path: Path) -> float:
    """Runs the export in onnxruntime on a fresh (past 0) and a cached (past > 0) step; returns max |logits diff|."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    max_diff = 0.0
    for batch, new, past in ((1, 5, 0), (3, 2, 6)):
        inputs = sample_inputs(shape, batch, new, past, seed=batch)
        with torch.no_grad():
            expected = decoder(*inputs)
        got = session.run(None, to_feed(inputs, shape.num_layers))
        for want, have in zip(expected, got, strict=True):
            if tuple(want.shape) != have.shape:
                raise RuntimeError(f"onnx output shape {have.shape} != torch {tuple(want.shape)}")
        diff = float((expected[0] - torch.from_numpy(got[0])).abs().max())
        scale = max(1.0, float(expected[0].abs().max()))
        if not diff <= _VERIFY_TOLERANCE * scale:
            raise RuntimeError(f"onnx logits differ from torch by {diff} (B={batch}, T={new}, P={past})")
        max_diff = max(max_diff, diff)
    return max_diff


def to_feed(
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]], num_layers: int
) -> dict[str, Any]:
    """onnxruntime feed dict from `sample_inputs`-style tensors."""
    input_ids, attention_mask, position_ids, past = inputs
    tensors = [input_ids, attention_mask, position_ids, *past]
    return {name: t.numpy() for name, t in zip(input_names(num_layers), tensors, strict=True)}


@contextlib.contextmanager
def _float32_cpu_eval(model: nn.Module):
    """Yields an eval-mode float32 CPU model with an exportable attention kernel, without disturbing `model`.

    A float32 CPU sdpa/eager model is used in place (eval mode, restored on exit); anything else (bf16,
    CUDA, flash attention) is copied into a fresh float32 CPU model, so training state stays untouched.
    """
    params = list(model.parameters())
    attention = getattr(model.config, "_attn_implementation", None) or "eager"
    in_place = attention in _EXPORTABLE_ATTENTION and all(
        p.dtype == torch.float32 and p.device.type == "cpu" for p in params
    )
    if in_place:
        was_training = model.training
        model.eval()
        try:
            yield model
        finally:
            model.train(was_training)
        return
    yield _float32_cpu_copy(model)


def _float32_cpu_copy(model: nn.Module) -> nn.Module:
    from transformers.initialization import no_init_weights

    with no_init_weights():
        copy = type(model)._from_config(model.config, dtype=torch.float32, attn_implementation="sdpa")
    copy.tie_weights()  # skipped under no_init_weights; without it a tied embedding is exported twice
    state = {name: t.detach().to("cpu", torch.float32) for name, t in model.state_dict().items()}
    copy.load_state_dict(state, strict=True)
    return copy.eval()


def _write_onnx_config(file: Path, model: nn.Module, tokenizer: Any, shape: DecoderShape, opset: int) -> None:
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": getattr(model.config, "model_type", None),
        "opset": opset,
        "model_file": ONNX_FILE,
        "dtype": "float32",
        **asdict(shape),
        "eos_token_ids": eos_token_ids(model, tokenizer),
        "bos_token_id": _first_id(getattr(model.config, "bos_token_id", None)),
        "pad_token_id": _first_id(getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None),
        "inputs": input_names(shape.num_layers),
        "outputs": output_names(shape.num_layers),
    }
    file.write_text(json.dumps(config, indent=2) + "\n")


def eos_token_ids(model: nn.Module, tokenizer: Any) -> list[int]:
    """Every id that ends generation: the generation config's, the model config's and the tokenizer's."""
    found: list[int] = []
    generation_config = getattr(model, "generation_config", None)
    for source in (
        getattr(generation_config, "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
        getattr(tokenizer, "eos_token_id", None) if tokenizer is not None else None,
    ):
        for token_id in source if isinstance(source, (list, tuple)) else [source]:
            if isinstance(token_id, int) and token_id not in found:
                found.append(token_id)
    return found


def _first_id(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value if isinstance(value, int) else None
