"""The trainer engine: tensor primitives for reinforcement fine-tuning, spoken to over stdio.

    .venv/bin/python gpu-runner/trainer/engine.py          # speaks PROTOCOL.md on stdin/stdout

    $ printf '%s\\n' '{"id":1,"op":"init","model_path":"/tmp/tiny","lora":{"rank":8}}' \\
        '{"id":2,"op":"sample","prompts":[{"messages":[{"role":"user","content":"What is 2+3?"}]}],"n":2}' \\
      | .venv/bin/python gpu-runner/trainer/engine.py

One JSON request per line in, one JSON reply per line out (PROTOCOL.md is the contract); logs and
tracebacks go to stderr. The RL loop itself (grading, advantages, schedules) lives in the TypeScript
supervisor: this file only loads a Hugging Face model, samples from it, computes a loss and its
gradients, steps the optimizer and saves checkpoints.

Tensor names end in their shape (tinker's convention): B sequences in a batch, T token positions,
V vocabulary entries; `logprobs_BT` is one log-probability per sequence and position.

Environment: RFT_ENGINE_THREADS sets torch's CPU threads (1 is fastest on a small shared box); RFT_ENGINE_PRELOAD=1
imports transformers and peft before the ready line (a warm engine: `init` then only reads the weights).
"""

import copy
import json
import math
import os
import random
import re
import shutil
import sys
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

PROTOCOL_VERSION = 1


@dataclass
class LoraConfig:
    rank: int = 8  # r: the adapter's inner dimension
    alpha: float = 16.0  # scaling numerator: updates are scaled by alpha / rank
    dropout: float = 0.0  # dropout on the adapter's input (training forward passes of cross_entropy only)
    target_modules: list[str] | str = "all-linear"  # module names to adapt, or "all-linear"


@dataclass
class OptimizerConfig:
    lr: float = 1e-5  # initial learning rate; every optim_step sets its own
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW moment decay rates
    eps: float = 1e-8  # AdamW denominator epsilon
    weight_decay: float = 0.0  # decoupled weight decay


@dataclass
class EngineConfig:
    model_path: str  # a Hugging Face model folder (config.json, safetensors, tokenizer)
    lora: LoraConfig | None = None  # None = full fine-tuning
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    seed: int = 0  # seeds torch, python and the sampler's generator
    device: str = "auto"  # auto = cuda when available, else cpu
    dtype: str = "auto"  # auto = bfloat16 on a cuda device that supports it, else float32 (LoRA weights stay float32)
    kl_coef: float = 0.0  # > 0 keeps a frozen reference policy (the base weights) for a KL penalty
    resume: str | None = None  # a checkpoint folder written by `save`
    micro_batch_size: int = 16  # sequences per forward/backward pass (bounds activation memory)
    sample_batch_size: int = 256  # completions decoded together


class EngineError(Exception):
    """An expected failure, answered as {"ok": false, "error": {type, message}}."""

    def __init__(self, type_: str, message: str):
        super().__init__(message)
        self.type = type_


def invalid(message: str) -> EngineError:
    return EngineError("invalid_request", message)


# ---- request validation ------------------------------------------------------------------------
# Hand-written checks: each names the dotted path of the bad field, so the supervisor's log says
# exactly what it sent wrong. Unknown fields are refused too (a typo must not pass silently).

_REQUIRED = object()


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def get_field(d: dict, key: str, kind: str, path: str, default: Any = _REQUIRED) -> Any:
    """Read d[key] checked against kind: int, number, bool, str, list, dict (None allowed via default)."""
    where = f"{path}.{key}" if path else key
    if key not in d or (d[key] is None and default is not _REQUIRED):
        if default is _REQUIRED:
            raise invalid(f"{where} is required")
        return default
    v = d[key]
    ok = {
        "int": isinstance(v, int) and not isinstance(v, bool),
        "number": isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "bool": isinstance(v, bool),
        "str": isinstance(v, str),
        "list": isinstance(v, list),
        "dict": isinstance(v, dict),
    }[kind]
    if not ok:
        raise invalid(f"{where} must be {'a finite number' if kind == 'number' else 'a ' + kind}, got {_type_name(v)}")
    return float(v) if kind == "number" else v


def check(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise invalid(f"{where} {what}")


def no_extra(d: dict, allowed: set[str], path: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        where = f"{path}." if path else ""
        raise invalid(f"unknown field {where}{extra[0]} (allowed: {', '.join(sorted(allowed))})")


def get_int_list(d: dict, key: str, path: str, vocab_size: int, allow_empty: bool = False) -> list[int]:
    where = f"{path}.{key}"
    ids = get_field(d, key, "list", path)
    check(allow_empty or len(ids) > 0, where, "must not be empty")
    for i, t in enumerate(ids):
        if not (isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab_size):
            raise invalid(f"{where}[{i}] must be a token id in [0, {vocab_size}), got {t!r}")
    return ids


def get_messages(d: dict, path: str) -> list[dict]:
    messages = get_field(d, "messages", "list", path)
    check(len(messages) > 0, f"{path}.messages", "must not be empty")
    for i, m in enumerate(messages):
        where = f"{path}.messages[{i}]"
        check(isinstance(m, dict), where, "must be an object")
        no_extra(m, {"role", "content"}, where)
        role = get_field(m, "role", "str", where)
        check(role != "", f"{where}.role", "must not be empty")
        get_field(m, "content", "str", where)
    return messages


def parse_init(args: dict) -> EngineConfig:
    no_extra(args, {f for f in EngineConfig.__dataclass_fields__}, "")
    cfg = EngineConfig(model_path=get_field(args, "model_path", "str", ""))
    if args.get("lora") is not None:
        lora = get_field(args, "lora", "dict", "")
        no_extra(lora, set(LoraConfig.__dataclass_fields__), "lora")
        rank = get_field(lora, "rank", "int", "lora")
        check(rank > 0, "lora.rank", "must be > 0")
        alpha = get_field(lora, "alpha", "number", "lora", float(2 * rank))
        check(alpha > 0, "lora.alpha", "must be > 0")
        dropout = get_field(lora, "dropout", "number", "lora", 0.0)
        check(0 <= dropout < 1, "lora.dropout", "must be in [0, 1)")
        targets = lora.get("target_modules", "all-linear")
        if targets is None:
            targets = "all-linear"
        ok = targets == "all-linear" or (
            isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets)
        )
        check(ok, "lora.target_modules", 'must be "all-linear" or a non-empty list of module names')
        cfg.lora = LoraConfig(rank=rank, alpha=alpha, dropout=dropout, target_modules=targets)
    opt = get_field(args, "optimizer", "dict", "", {})
    no_extra(opt, set(OptimizerConfig.__dataclass_fields__), "optimizer")
    d = OptimizerConfig()
    lr = get_field(opt, "lr", "number", "optimizer", d.lr)
    check(lr >= 0, "optimizer.lr", "must be >= 0")
    betas = get_field(opt, "betas", "list", "optimizer", list(d.betas))
    ok = len(betas) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    check(ok, "optimizer.betas", "must be two numbers in [0, 1)")
    eps = get_field(opt, "eps", "number", "optimizer", d.eps)
    check(eps > 0, "optimizer.eps", "must be > 0")
    wd = get_field(opt, "weight_decay", "number", "optimizer", d.weight_decay)
    check(wd >= 0, "optimizer.weight_decay", "must be >= 0")
    cfg.optimizer = OptimizerConfig(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=wd)
    cfg.seed = get_field(args, "seed", "int", "", 0)
    cfg.device = get_field(args, "device", "str", "", "auto")
    check(cfg.device in ("auto", "cpu", "cuda"), "device", f"must be auto, cpu or cuda, got {cfg.device!r}")
    cfg.dtype = get_field(args, "dtype", "str", "", "auto")
    check(cfg.dtype in ("auto", "float32", "bfloat16"), "dtype", f"must be auto, float32 or bfloat16, got {cfg.dtype!r}")
    cfg.kl_coef = get_field(args, "kl_coef", "number", "", 0.0)
    check(cfg.kl_coef >= 0, "kl_coef", "must be >= 0")
    resume = get_field(args, "resume", "dict", "", None)
    if resume is not None:
        no_extra(resume, {"path"}, "resume")
        cfg.resume = get_field(resume, "path", "str", "resume")
    cfg.micro_batch_size = get_field(args, "micro_batch_size", "int", "", cfg.micro_batch_size)
    check(cfg.micro_batch_size > 0, "micro_batch_size", "must be > 0")
    cfg.sample_batch_size = get_field(args, "sample_batch_size", "int", "", cfg.sample_batch_size)
    check(cfg.sample_batch_size > 0, "sample_batch_size", "must be > 0")
    return cfg


# ---- loading a model ---------------------------------------------------------------------------


def model_error(path: str, e: BaseException | str) -> EngineError:
    detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return EngineError("model_error", f"cannot load the model at {path}: {detail}")


HUB_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"]


def resolve_model_path(path: str) -> str:
    """A folder as it is; otherwise a Hugging Face Hub repo id (`org/name`), fetched with huggingface_hub, or found
    in the local HF cache (`HF_HOME`; with `HF_HUB_OFFLINE=1` only there). Returns the folder to load from."""
    if Path(path).is_dir() or not HUB_REPO_ID.fullmatch(path):
        return path
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id=path, allow_patterns=HUB_FILES)
    except Exception as e:  # offline and not cached, no such repo, gated, network down, ...
        raise model_error(path, f"not a folder here, and the Hugging Face Hub could not provide it ({e})") from e


def load_causal_lm(path: str, device: torch.device, dtype: torch.dtype):
    """AutoModelForCausalLM from a folder, with every way it can be broken turned into a model_error."""
    from transformers import AutoConfig, AutoModelForCausalLM

    p = Path(path)
    if not p.is_dir():
        raise model_error(path, "no such folder")
    if not (p / "config.json").is_file():
        raise model_error(path, "no config.json in the folder")
    try:
        config = AutoConfig.from_pretrained(p)
    except Exception as e:  # unknown model_type, malformed JSON, ...
        raise model_error(path, f"unreadable or unknown architecture in config.json ({e})") from e
    if not list(p.glob("*.safetensors")) and not list(p.glob("*.bin")):
        raise model_error(path, "no weights (*.safetensors) in the folder")
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            p, config=config, dtype=dtype, attn_implementation="sdpa", output_loading_info=True
        )
    except ValueError as e:
        if "sdpa" not in str(e).lower():
            raise model_error(path, e) from e
        model, info = AutoModelForCausalLM.from_pretrained(p, config=config, dtype=dtype, output_loading_info=True)
    except Exception as e:
        raise model_error(path, e) from e
    # from_pretrained only warns about weights it had to initialise at random: for us that is fatal.
    missing = [k for k in info.get("missing_keys", []) if not k.endswith("lm_head.weight") or not config.tie_word_embeddings]
    if missing:
        raise model_error(path, f"weights missing from the checkpoint: {', '.join(sorted(missing)[:5])}")
    return model.to(device)


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as e:
        raise model_error(path, f"tokenizer: {e}") from e


# ---- the engine ----------------------------------------------------------------------------------


class Engine:
    def __init__(self) -> None:
        self.cfg: EngineConfig | None = None
        self.model = None
        self.ref_model = None  # frozen copy for the KL penalty (full fine-tuning only; LoRA disables the adapter)
        self.tokenizer = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.grads_poisoned = False  # a non-finite loss was seen since the last optim_step
        self.device = torch.device("cpu")

    # -- init --------------------------------------------------------------------------------------

    def init(self, args: dict) -> dict:
        cfg = parse_init(args)
        if cfg.device == "cuda" and not torch.cuda.is_available():
            raise invalid("device is cuda but no CUDA device is available")
        device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else cfg.device.replace("auto", "cpu"))
        if cfg.dtype == "auto":
            bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
            dtype = torch.bfloat16 if bf16 else torch.float32
        else:
            dtype = getattr(torch, cfg.dtype)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.device = device
        self.sample_gen = torch.Generator(device=device).manual_seed(cfg.seed)

        cfg.model_path = resolve_model_path(cfg.model_path)
        state = None
        if cfg.resume is not None:
            state = self._read_checkpoint(cfg.resume, cfg)
        weights_from = cfg.model_path
        if state is not None and cfg.lora is None:
            weights_from = str(Path(cfg.resume) / "merged")  # full fine-tuning: the checkpoint is the model
        model = load_causal_lm(weights_from, device, dtype)
        self.tokenizer = load_tokenizer(cfg.model_path)
        if cfg.kl_coef > 0 and cfg.lora is None:
            fresh = weights_from == cfg.model_path
            ref = copy.deepcopy(model) if fresh else load_causal_lm(cfg.model_path, device, dtype)
            self.ref_model = ref.eval().requires_grad_(False)
        if cfg.lora is not None:
            from peft import LoraConfig as PeftLoraConfig
            from peft import get_peft_model

            try:
                peft_cfg = PeftLoraConfig(
                    r=cfg.lora.rank,
                    lora_alpha=cfg.lora.alpha,
                    lora_dropout=cfg.lora.dropout,
                    target_modules=cfg.lora.target_modules,
                    task_type="CAUSAL_LM",
                )
                model = get_peft_model(model, peft_cfg)
            except ValueError as e:  # e.g. target_modules that match nothing
                raise invalid(f"lora.target_modules: {e}") from e
        self.model = model
        self.cfg = cfg
        self.params = [p for p in model.parameters() if p.requires_grad]
        o = cfg.optimizer
        self.optimizer = torch.optim.AdamW(self.params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
        if state is not None:
            self._restore(state)
        cfg_model = self.base_model().config
        return {
            "model_type": cfg_model.model_type,
            "n_params": sum(p.numel() for p in model.parameters()),
            "n_trainable": sum(p.numel() for p in self.params),
            "vocab_size": self.vocab_size(),
            "device": device.type,
            "dtype": str(dtype).removeprefix("torch."),
            "step": self.step,
            "eos_token_ids": sorted(self.eos_token_ids()),
        }

    def base_model(self):
        return self.model.get_base_model() if self.cfg.lora is not None else self.model

    def vocab_size(self) -> int:
        return self.base_model().get_output_embeddings().weight.shape[0]

    def eos_token_ids(self) -> set[int]:
        ids = set()
        gen_eos = getattr(self.base_model().generation_config, "eos_token_id", None)
        ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def require_init(self) -> None:
        if self.model is None:
            raise invalid("the engine has no model yet: send init first")

    # -- chat templates and tokens -----------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        # The template already wrote any BOS it wants; add_special_tokens would add a second one.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise EngineError("model_error", "the model's tokenizer has no chat_template")
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)

    def chat_tokens_and_mask(self, messages: list[dict], where: str) -> tuple[list[int], list[int]]:
        """Token ids of a whole conversation and a mask of 1 on the assistant turns' tokens.

        Each assistant turn i spans the characters between the rendering of messages[:i] with the
        generation prompt and the rendering of messages[:i+1]; offsets map that span onto tokens.
        This works for any template whose renderings of a conversation's prefixes are prefixes of it.
        """
        full = self.render(messages, add_generation_prompt=False)
        enc = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        mask = [0] * len(ids)
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            start_text = self.render(messages[:i], add_generation_prompt=True) if i else ""
            end_text = self.render(messages[: i + 1], add_generation_prompt=False)
            if not (full.startswith(end_text) and end_text.startswith(start_text)):
                raise invalid(f"{where}.messages: the chat template does not render turn {i} as a prefix of the conversation")
            for t, (s, _) in enumerate(offsets):
                if len(start_text) <= s < len(end_text):
                    mask[t] = 1
        if not any(mask):
            raise invalid(f"{where}.messages has no assistant turn to train on")
        return ids, mask

    # -- sample ------------------------------------------------------------------------------------
    # Reported log-probs are log_softmax(logits / temperature) of the token drawn, from the whole
    # distribution: top_p only narrows which tokens can be drawn, it is not folded into the
    # log-prob. So forward_backward (at the same temperature) recomputes exactly these numbers.
    # temperature 0 means greedy decoding; its log-probs are then those at temperature 1.

    @torch.no_grad()
    def sample(self, args: dict) -> dict:
        self.require_init()
        no_extra(args, {"prompts", "n", "temperature", "top_p", "max_tokens", "stop", "seed"}, "")
        prompts = get_field(args, "prompts", "list", "")
        check(len(prompts) > 0, "prompts", "must not be empty")
        n = get_field(args, "n", "int", "", 1)
        check(n >= 1, "n", "must be >= 1")
        temperature = get_field(args, "temperature", "number", "", 1.0)
        check(temperature >= 0, "temperature", "must be >= 0")
        top_p = get_field(args, "top_p", "number", "", 1.0)
        check(0 < top_p <= 1, "top_p", "must be in (0, 1]")
        max_tokens = get_field(args, "max_tokens", "int", "", 256)
        check(max_tokens >= 1, "max_tokens", "must be >= 1")
        stop = get_field(args, "stop", "list", "", [])
        check(all(isinstance(s, str) and s for s in stop), "stop", "must be a list of non-empty strings")
        seed = get_field(args, "seed", "int", "", None)
        prompt_ids = []
        for i, p in enumerate(prompts):
            check(isinstance(p, dict), f"prompts[{i}]", "must be an object")
            no_extra(p, {"messages"}, f"prompts[{i}]")
            ids = self.encode(self.render(get_messages(p, f"prompts[{i}]"), add_generation_prompt=True))
            limit = getattr(self.base_model().config, "max_position_embeddings", None)
            if limit is not None and len(ids) + max_tokens > limit:
                raise invalid(f"prompts[{i}]: {len(ids)} prompt tokens + max_tokens {max_tokens} exceed the model's {limit} positions")
            prompt_ids.append(ids)

        gen = self.sample_gen if seed is None else torch.Generator(device=self.device).manual_seed(seed)
        rows = [pi for pi in range(len(prompts)) for _ in range(n)]
        completions: list[dict] = []
        self.model.eval()
        bs = self.cfg.sample_batch_size
        for start in range(0, len(rows), bs):
            chunk = [prompt_ids[pi] for pi in rows[start : start + bs]]
            completions += self.decode_batch(chunk, temperature, top_p, max_tokens, stop, gen)
        results = [{"prompt_token_ids": ids, "completions": completions[i * n : (i + 1) * n]} for i, ids in enumerate(prompt_ids)]
        return {"results": results}

    def decode_batch(self, prompts: list[list[int]], temperature, top_p, max_tokens, stop, gen) -> list[dict]:
        """Batched, KV-cached decoding of left-padded prompts."""
        B, P = len(prompts), max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        eos = self.eos_token_ids()
        input_ids_BT = torch.tensor([[pad] * (P - len(p)) + p for p in prompts], device=self.device)
        attn_BT = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        pos_BT = (attn_BT.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=input_ids_BT, attention_mask=attn_BT, position_ids=pos_BT, use_cache=True)
        cache, logits_BV = out.past_key_values, out.logits[:, -1].float()
        next_pos_B = pos_BT[:, -1] + 1
        tokens: list[list[int]] = [[] for _ in range(B)]
        logprobs: list[list[float]] = [[] for _ in range(B)]
        finish: list[str | None] = [None] * B
        stop_window = max((len(s) for s in stop), default=0) + 4  # tokens that can hold a stop string
        for t in range(max_tokens):
            logprobs_BV = F.log_softmax(logits_BV / (temperature or 1.0), dim=-1)
            if temperature == 0:
                next_B = logits_BV.argmax(-1)
            else:
                probs_BV = logprobs_BV.exp()
                if top_p < 1.0:
                    sorted_BV, order_BV = probs_BV.sort(-1, descending=True)
                    outside_BV = sorted_BV.cumsum(-1) - sorted_BV >= top_p  # keep the smallest set reaching top_p
                    sorted_BV[outside_BV] = 0.0
                    probs_BV = torch.zeros_like(probs_BV).scatter(-1, order_BV, sorted_BV)
                next_B = torch.multinomial(probs_BV, 1, generator=gen)[:, 0]
            chosen_B = logprobs_BV.gather(-1, next_B[:, None])[:, 0]
            next_list, chosen_list = next_B.tolist(), chosen_B.tolist()
            for b in range(B):
                if finish[b] is not None:
                    continue
                tokens[b].append(next_list[b])
                logprobs[b].append(chosen_list[b])
                if next_list[b] in eos:
                    finish[b] = "stop"
                elif stop and any(s in self.tokenizer.decode(tokens[b][-stop_window:]) for s in stop):
                    finish[b] = "stop"
                elif len(tokens[b]) == max_tokens:
                    finish[b] = "length"
            if all(f is not None for f in finish):
                break
            attn_BT = torch.cat([attn_BT, torch.ones(B, 1, dtype=attn_BT.dtype, device=self.device)], 1)
            out = self.model(
                input_ids=next_B[:, None],
                attention_mask=attn_BT,
                position_ids=next_pos_B[:, None],
                past_key_values=cache,
                use_cache=True,
            )
            cache, logits_BV = out.past_key_values, out.logits[:, -1].float()
            next_pos_B = next_pos_B + 1
        results = []
        for b in range(B):
            ids = tokens[b][:-1] if tokens[b] and tokens[b][-1] in eos else tokens[b]
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            cut = [i for i in (text.find(s) for s in stop) if i >= 0]
            if cut:  # token_ids keep every sampled token (they are trained on); the text stops before `stop`
                text = text[: min(cut)]
            results.append({"text": text, "token_ids": tokens[b], "logprobs": logprobs[b], "finish_reason": finish[b]})
        return results

    # -- log-probs of given tokens -----------------------------------------------------------------

    def token_logprobs(self, model, ids: list[list[int]], temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """logprobs_BT[b, t] = log p(ids[b][t] | ids[b][:t]) at the temperature; 0 at t = 0 and on padding.

        Also returns entropy_BT (of the same distribution, no gradient) and a padding mask.
        """
        B, T = len(ids), max(len(s) for s in ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids_BT = torch.tensor([s + [pad] * (T - len(s)) for s in ids], device=self.device)
        attn_BT = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in ids], device=self.device)
        logits_BTV = model(input_ids=input_ids_BT, attention_mask=attn_BT).logits[:, :-1].float() / temperature
        logp_BTV = F.log_softmax(logits_BTV, dim=-1)
        logprobs_BT = logp_BTV.gather(-1, input_ids_BT[:, 1:, None])[..., 0]
        with torch.no_grad():
            entropy_BT = -(logp_BTV.exp() * logp_BTV).sum(-1)
        zero_B1 = torch.zeros(B, 1, device=self.device)
        return torch.cat([zero_B1, logprobs_BT], 1), torch.cat([zero_B1, entropy_BT], 1), attn_BT

    # -- forward_backward --------------------------------------------------------------------------
    # Losses, per completion token t of sequence i (all averaged with `loss_aggregation`):
    #   cross_entropy        -log p(x_t)                                   (supervised fine-tuning)
    #   importance_sampling  -exp(logp_t - sampling_logp_t) * A_i          (REINFORCE with an importance
    #                        ratio to the sampler; tinker's "importance_sampling" loss)
    #   ppo                  -min(r_t * A_i, clip(r_t, 1-eps, 1+eps) * A_i), r_t = exp(logp_t - sampling_logp_t)
    #                        (PPO-clip, Schulman et al. 2017; as in cleanrl's ppo.py)
    #   + kl_coef * (exp(ref_t - logp_t) - (ref_t - logp_t) - 1)           (k3 estimator of KL(policy || ref),
    #                        Schulman's "Approximating KL divergence"; as in GRPO, Shao et al. 2024)
    # token_mean (default) divides by all completion tokens of the request (DAPO's token-level mean, so
    # long answers are not down-weighted); sequence_mean averages each sequence, then the sequences
    # (GRPO's original form).

    def forward_backward(self, args: dict) -> dict:
        self.require_init()
        allowed = {"loss", "sequences", "clip_epsilon", "kl_coef", "return_logprobs", "temperature", "loss_aggregation"}
        no_extra(args, allowed, "")
        loss_name = get_field(args, "loss", "str", "")
        check(loss_name in ("cross_entropy", "importance_sampling", "ppo"), "loss", f"must be cross_entropy, importance_sampling or ppo, got {loss_name!r}")
        clip_eps = get_field(args, "clip_epsilon", "number", "", 0.2)
        check(clip_eps > 0, "clip_epsilon", "must be > 0")
        kl_coef = get_field(args, "kl_coef", "number", "", 0.0 if loss_name == "cross_entropy" else self.cfg.kl_coef)
        check(kl_coef >= 0, "kl_coef", "must be >= 0")
        if kl_coef > 0 and loss_name == "cross_entropy":
            raise invalid("kl_coef applies to importance_sampling and ppo only")
        if kl_coef > 0 and self.cfg.lora is None and self.ref_model is None:
            raise invalid("kl_coef > 0 needs a reference policy: init with kl_coef > 0 (or with lora)")
        temperature = get_field(args, "temperature", "number", "", 1.0)
        check(temperature > 0, "temperature", "must be > 0")
        agg = get_field(args, "loss_aggregation", "str", "", "token_mean")
        check(agg in ("token_mean", "sequence_mean"), "loss_aggregation", "must be token_mean or sequence_mean")
        return_logprobs = get_field(args, "return_logprobs", "bool", "", False)
        seqs = self.parse_sequences(get_field(args, "sequences", "list", ""), loss_name)

        n_tokens = sum(sum(s["mask"]) for s in seqs)
        totals = {"loss": 0.0, "entropy": 0.0, "kl": 0.0, "clipped": 0.0}
        all_logprobs: list[list[float]] = []
        poisoned = False
        # RL losses run without dropout so that the ratio is exactly 1 on the sampler's own tokens.
        self.model.train(loss_name == "cross_entropy")
        mbs = self.cfg.micro_batch_size
        for start in range(0, len(seqs), mbs):
            mb = seqs[start : start + mbs]
            logprobs_BT, entropy_BT, _ = self.token_logprobs(self.model, [s["ids"] for s in mb], temperature)
            T = logprobs_BT.shape[1]
            mask_BT = torch.tensor([s["mask"] + [0] * (T - len(s["mask"])) for s in mb], device=self.device, dtype=torch.float32)
            if agg == "token_mean":
                weight_BT = mask_BT / n_tokens
            else:
                weight_BT = mask_BT / mask_BT.sum(1, keepdim=True) / len(seqs)
            if loss_name == "cross_entropy":
                loss_BT = -logprobs_BT
                kl_BT = torch.zeros_like(loss_BT)
            else:
                sampling_BT = torch.tensor([s["sampling"] + [0.0] * (T - len(s["sampling"])) for s in mb], device=self.device)
                adv_B1 = torch.tensor([[s["advantage"]] for s in mb], device=self.device)
                ratio_BT = torch.exp(logprobs_BT - sampling_BT)
                if loss_name == "importance_sampling":
                    loss_BT = -ratio_BT * adv_B1
                else:
                    clipped_BT = ratio_BT.clamp(1 - clip_eps, 1 + clip_eps)
                    loss_BT = -torch.min(ratio_BT * adv_B1, clipped_BT * adv_B1)
                    totals["clipped"] += (((ratio_BT - 1).abs() > clip_eps).float() * mask_BT).sum().item()
                kl_BT = torch.zeros_like(loss_BT)
                if kl_coef > 0:
                    with torch.no_grad():
                        ref_BT = self.reference_logprobs([s["ids"] for s in mb], temperature)
                    log_r_BT = ref_BT - logprobs_BT
                    kl_BT = torch.exp(log_r_BT) - log_r_BT - 1
                    loss_BT = loss_BT + kl_coef * kl_BT
            loss = (loss_BT * weight_BT).sum()
            if not torch.isfinite(loss):
                poisoned = True
                break
            loss.backward()
            totals["loss"] += loss.item()
            totals["entropy"] += (entropy_BT * mask_BT).sum().item()
            totals["kl"] += (kl_BT.detach() * mask_BT).sum().item()
            if return_logprobs:
                for b, s in enumerate(mb):
                    all_logprobs.append([v for v, m in zip(logprobs_BT[b].tolist(), s["mask"]) if m])
        if poisoned:
            self.grads_poisoned = True
            raise EngineError("nan_loss", "the loss is not finite; this step's gradients are discarded and the next optim_step is skipped")
        result = {
            "loss": totals["loss"],
            "n_sequences": len(seqs),
            "n_tokens": n_tokens,
            "entropy": totals["entropy"] / n_tokens,
            "kl": totals["kl"] / n_tokens,
            "clip_fraction": totals["clipped"] / n_tokens,
        }
        if return_logprobs:
            result["logprobs"] = all_logprobs
        return result

    def reference_logprobs(self, ids: list[list[int]], temperature: float) -> torch.Tensor:
        if self.cfg.lora is not None:
            with self.model.disable_adapter():
                return self.token_logprobs(self.model, ids, temperature)[0]
        return self.token_logprobs(self.ref_model, ids, temperature)[0]

    def parse_sequences(self, raw: list, loss_name: str) -> list[dict]:
        """Each sequence as ids (prompt + completion), mask (1 where a token is trained on) and, for RL,
        sampling log-probs and the advantage, aligned with ids."""
        check(len(raw) > 0, "sequences", "must not be empty")
        V = self.vocab_size()
        limit = getattr(self.base_model().config, "max_position_embeddings", None)
        seqs = []
        for i, s in enumerate(raw):
            where = f"sequences[{i}]"
            check(isinstance(s, dict), where, "must be an object")
            if loss_name == "cross_entropy" and "messages" in s:
                no_extra(s, {"messages"}, where)
                ids, mask = self.chat_tokens_and_mask(get_messages(s, where), where)
                seq = {"ids": ids, "mask": mask}
            else:
                rl = loss_name != "cross_entropy"
                keys = {"prompt_token_ids", "completion_token_ids"} | ({"sampling_logprobs", "advantage"} if rl else set())
                no_extra(s, keys, where)
                prompt = get_int_list(s, "prompt_token_ids", where, V)
                completion = get_int_list(s, "completion_token_ids", where, V)
                seq = {"ids": prompt + completion, "mask": [0] * len(prompt) + [1] * len(completion)}
                if rl:
                    lps = get_field(s, "sampling_logprobs", "list", where)
                    check(len(lps) == len(completion), f"{where}.sampling_logprobs", f"must have one entry per completion token ({len(completion)}), got {len(lps)}")
                    for j, v in enumerate(lps):
                        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v <= 0
                        check(ok, f"{where}.sampling_logprobs[{j}]", f"must be a finite number <= 0, got {v!r}")
                    seq["sampling"] = [0.0] * len(prompt) + [float(v) for v in lps]
                    seq["advantage"] = get_field(s, "advantage", "number", where)
            if limit is not None and len(seq["ids"]) > limit:
                raise invalid(f"{where} has {len(seq['ids'])} tokens, more than the model's {limit} positions")
            seqs.append(seq)
        return seqs

    # -- optim_step --------------------------------------------------------------------------------

    def optim_step(self, args: dict) -> dict:
        self.require_init()
        no_extra(args, {"learning_rate", "max_grad_norm"}, "")
        lr = get_field(args, "learning_rate", "number", "")
        check(lr >= 0, "learning_rate", "must be >= 0")
        max_norm = get_field(args, "max_grad_norm", "number", "", 0.0)
        check(max_norm >= 0, "max_grad_norm", "must be >= 0 (0 = no clipping)")
        # The norm is taken before clipping; clip_grad_norm_ with an infinite bound only measures.
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm if max_norm > 0 else float("inf")).item()
        if self.grads_poisoned or not math.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            self.grads_poisoned = False
            return {"step": self.step, "grad_norm": None, "skipped": True}
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"step": self.step, "grad_norm": grad_norm, "skipped": False}

    # -- save and resume ---------------------------------------------------------------------------

    def save(self, args: dict) -> dict:
        self.require_init()
        no_extra(args, {"path", "merged", "include_optimizer"}, "")
        path = Path(get_field(args, "path", "str", ""))
        merged = get_field(args, "merged", "bool", "", True)
        include_optimizer = get_field(args, "include_optimizer", "bool", "", True)
        if self.cfg.lora is None:
            merged = True  # full fine-tuning: merged/ is the model itself
        tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            if merged:
                self.save_merged(tmp / "merged")
            if self.cfg.lora is not None:
                self.model.save_pretrained(tmp / "adapter")
            torch.save(self.trainer_state(include_optimizer), tmp / "trainer_state.pt")
            files = [
                {"name": str(f.relative_to(tmp)), "bytes": f.stat().st_size} for f in sorted(tmp.rglob("*")) if f.is_file()
            ]
            replace_dir(tmp, path)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise EngineError("io_error", f"cannot save to {path}: {e}") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {"path": str(path), "files": files}

    def save_merged(self, out: Path) -> None:
        """HF layout of the policy: for LoRA, base weights + B @ A * alpha / r, without touching the live model."""
        if self.cfg.lora is None:
            self.model.save_pretrained(out)
        else:
            from peft.tuners.lora import LoraLayer

            base = self.model.get_base_model()
            state = {k: v for k, v in base.state_dict().items() if "lora_" not in k}
            for name, module in base.named_modules():
                if isinstance(module, LoraLayer) and "default" in module.lora_A:
                    key = f"{name}.base_layer.weight"
                    w = state[key]
                    state[key] = (w.float() + module.get_delta_weight("default").float()).to(w.dtype)
            state = {k.replace(".base_layer.", "."): v for k, v in state.items()}
            from transformers import AutoModelForCausalLM

            # A clean skeleton on the meta device, so save_pretrained writes the base architecture.
            with torch.device("meta"):
                skeleton = AutoModelForCausalLM.from_config(base.config)
            skeleton.generation_config = base.generation_config
            skeleton.save_pretrained(out, state_dict=state)
        self.tokenizer.save_pretrained(out)

    def trainer_state(self, include_optimizer: bool) -> dict:
        return {
            "format": 1,
            "step": self.step,
            "lora": asdict(self.cfg.lora) if self.cfg.lora is not None else None,
            "optimizer": self.optimizer.state_dict() if include_optimizer else None,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "python": random.getstate(),
                "sampler": self.sample_gen.get_state(),
            },
        }

    def _read_checkpoint(self, path: str, cfg: EngineConfig) -> dict:
        p = Path(path)
        if not (p / "trainer_state.pt").is_file():
            raise invalid(f"resume.path {path} is not a checkpoint (no trainer_state.pt)")
        try:
            state = torch.load(p / "trainer_state.pt", map_location="cpu", weights_only=True)
        except Exception as e:
            raise EngineError("io_error", f"cannot read {p / 'trainer_state.pt'}: {e}") from e
        if (state["lora"] is None) != (cfg.lora is None):
            kind = "LoRA" if state["lora"] is not None else "full fine-tuning"
            raise invalid(f"resume.path holds a {kind} checkpoint; init's lora must match")
        if cfg.lora is not None and not (p / "adapter" / "adapter_model.safetensors").is_file():
            raise invalid(f"resume.path {path} has no adapter/adapter_model.safetensors")
        if cfg.lora is None and not (p / "merged").is_dir():
            raise invalid(f"resume.path {path} has no merged/ model")
        return state

    def _restore(self, state: dict) -> None:
        if self.cfg.lora is not None:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            weights = load_file(Path(self.cfg.resume) / "adapter" / "adapter_model.safetensors", device=str(self.device))
            result = set_peft_model_state_dict(self.model, weights)
            if result.unexpected_keys:
                raise invalid(f"resume.path adapter does not fit this model/lora: {result.unexpected_keys[:3]}")
        if state["optimizer"] is not None:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except ValueError as e:
                raise invalid(f"resume.path optimizer state does not fit these parameters: {e}") from e
        else:
            print("resume: the checkpoint has no optimizer state; AdamW starts fresh", file=sys.stderr)
        self.step = state["step"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        random.setstate(rng["python"])
        try:
            self.sample_gen.set_state(rng["sampler"])
        except RuntimeError:
            print("resume: the sampler's RNG state is from another device; reseeded", file=sys.stderr)

    # -- export_onnx -------------------------------------------------------------------------------

    def export_onnx(self, args: dict) -> dict:
        self.require_init()
        no_extra(args, {"path", "opset"}, "")
        path = Path(get_field(args, "path", "str", ""))
        opset = get_field(args, "opset", "int", "", 18)
        check(opset >= 18, "opset", "must be >= 18")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import onnx_export  # written by the ONNX work; imported lazily, it pulls in onnx and onnxscript

        self.model.eval()
        model = self.model
        if self.cfg.lora is not None:
            model = copy.deepcopy(self.model).merge_and_unload()  # ONNX gets the plain architecture
        return {"path": str(path), "files": onnx_export.export(model, self.tokenizer, str(path), opset)}


def replace_dir(new: Path, path: Path) -> None:
    """Put folder `new` at `path`; an existing `path` is kept until `new` is in place."""
    if not path.exists():
        os.replace(new, path)
        return
    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ---- the stdio protocol --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class Server:
    def __init__(self) -> None:
        self.engine = Engine()
        self.ops = ("init", "sample", "forward_backward", "optim_step", "save", "export_onnx", "shutdown")

    def run(self, op: str, args: dict) -> dict:
        if op == "init":  # a fresh engine replaces the current one only once it has loaded
            fresh = Engine()
            result = fresh.init(args)
            self.engine = fresh
            return result
        if op == "shutdown":
            no_extra(args, set(), "")
            return {}
        return getattr(self.engine, op)(args)

    def handle(self, line: str) -> dict:
        """One request line in, one reply object out; never raises."""
        req_id = None
        try:
            try:
                req = json.loads(line, parse_constant=_reject_constant)
            except ValueError as e:
                raise invalid(f"the request is not valid JSON: {e}") from e
            if not isinstance(req, dict):
                raise invalid("the request must be a JSON object")
            raw_id = req.get("id")
            req_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
            if req_id is None:
                raise invalid("id must be an integer")
            op = req.get("op")
            if op not in self.ops:
                raise invalid(f"op must be one of {', '.join(self.ops)}, got {op!r}")
            args = {k: v for k, v in req.items() if k not in ("id", "op")}
            return {"id": req_id, "ok": True, "result": self.run(op, args)}
        except EngineError as e:
            return {"id": req_id, "ok": False, "error": {"type": e.type, "message": str(e)}}
        except torch.OutOfMemoryError as e:
            traceback.print_exc()
            return {"id": req_id, "ok": False, "error": {"type": "internal", "message": f"out of memory: {e}"}}
        except Exception as e:
            traceback.print_exc()
            return {"id": req_id, "ok": False, "error": {"type": "internal", "message": f"{type(e).__name__}: {e}"}}


def preload() -> None:
    """Imports what `init` needs before the ready line (RFT_ENGINE_PRELOAD=1): transformers' auto classes, peft and
    the modeling code of common architectures take ~4 s on a small CPU, so a runner that starts its engine early
    (or keeps one warm) answers its first `init` in the time it takes to read the weights."""
    import importlib

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    from peft import LoraConfig as PeftLoraConfig, get_peft_model  # noqa: F401

    for arch in ("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "phi3"):
        try:
            importlib.import_module(f"transformers.models.{arch}.modeling_{arch}")
        except Exception:  # an architecture this transformers does not ship: it loads lazily if ever needed
            pass


def main() -> None:
    # Replies own the real stdout; anything else printed (by us or a library, even from C) goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    sys.stdin.reconfigure(encoding="utf-8")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if os.environ.get("RFT_ENGINE_THREADS"):
        torch.set_num_threads(int(os.environ["RFT_ENGINE_THREADS"]))

    def reply(obj: dict) -> None:
        try:
            text = json.dumps(obj, allow_nan=False)
        except ValueError:  # a NaN slipped into a result: never write invalid JSON
            text = json.dumps({"id": obj.get("id"), "ok": False, "error": {"type": "internal", "message": "a result was not finite"}})
        replies.write(text + "\n")
        replies.flush()

    if os.environ.get("RFT_ENGINE_PRELOAD") == "1":
        preload()
    server = Server()
    reply({"id": 0, "ok": True, "result": {"ready": True, "protocol": PROTOCOL_VERSION}})
    for line in sys.stdin:  # EOF (the supervisor went away) ends the loop: exit cleanly
        if not line.strip():
            continue
        answer = server.handle(line)
        reply(answer)
        if answer["ok"] and json.loads(line).get("op") == "shutdown":
            break
    replies.close()


if __name__ == "__main__":
    main()
