"""Shared fixtures: one tiny real model per session, and two ways to speak to the engine.

- `spawn_engine()` starts engine.py as a child process and talks JSON lines over its pipes
  (the real protocol, exactly as the supervisor does).
- `server` is an in-process engine.Server: the same request parsing and ops, without paying for a
  new interpreter and torch import per test; used where a test inspects tensors.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TRAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINER))

import engine  # noqa: E402
import make_tiny_model  # noqa: E402

torch.set_num_threads(1)  # a small shared CPU box: more threads spin against each other


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A quick build of the benchmark's model (32-wide, 2 layers): real HF layout, barely trained."""
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_model.build(root / "model", root / "data", make_tiny_model.BuildConfig(**make_tiny_model.QUICK))
    return root / "model"


class InProcess:
    """Requests through engine.Server.handle, as JSON text, the way the stdio loop feeds it."""

    def __init__(self) -> None:
        self.server = engine.Server()
        self.next_id = 1

    def raw(self, op: str, **args) -> dict:
        self.next_id += 1
        return self.server.handle(json.dumps({"id": self.next_id, "op": op, **args}))

    def __call__(self, op: str, **args) -> dict:
        reply = self.raw(op, **args)
        assert reply["ok"], reply
        return reply["result"]

    @property
    def engine(self) -> engine.Engine:
        return self.server.engine


@pytest.fixture
def server() -> InProcess:
    return InProcess()


class EngineProcess:
    def __init__(self) -> None:
        env = {**os.environ, "RFT_ENGINE_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(TRAINER / "engine.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.next_id = 0
        self.ready = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, f"engine closed stdout; stderr:\n{self.proc.stderr.read()[-3000:]}"
        return json.loads(line)

    def send_line(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def raw(self, op: str, **args) -> dict:
        self.next_id += 1
        reply = self.send_line(json.dumps({"id": self.next_id, "op": op, **args}))
        assert reply["id"] == self.next_id
        return reply

    def __call__(self, op: str, **args) -> dict:
        reply = self.raw(op, **args)
        assert reply["ok"], reply
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def spawn_engine():
    started: list[EngineProcess] = []

    def spawn() -> EngineProcess:
        started.append(EngineProcess())
        return started[-1]

    yield spawn
    for p in started:
        p.close()


def user(content: str) -> dict:
    return {"messages": [{"role": "user", "content": content}]}


def rl_sequences(sample_result: dict, advantages: list[float]) -> list[dict]:
    """The sampler's output turned into forward_backward sequences, one advantage per completion."""
    seqs = []
    for r in sample_result["results"]:
        for c in r["completions"]:
            seqs.append(
                {
                    "prompt_token_ids": r["prompt_token_ids"],
                    "completion_token_ids": c["token_ids"],
                    "sampling_logprobs": c["logprobs"],
                    "advantage": advantages[len(seqs) % len(advantages)],
                }
            )
    return seqs
