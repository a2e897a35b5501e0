"""Warm worker for python graders: runs `grade(sample, item)` for requests read as JSON lines.

Started by sandbox.node.ts inside bubblewrap (or, without bubblewrap, directly with the weaker guards below), as
`python3 -I -c <this file> <memory_bytes> <file_size_bytes> <mode>`. The protocol uses private duplicates of
stdin/stdout; the grader's own stdin/stdout are /dev/null, so print() cannot corrupt the protocol.

Request:  {"id": int, "cpu": seconds, "src": source (first request only), "sample": {...}, "item": {...}}
Response: {"id": int, "ok": true, "value": float} | {"id": int, "ok": false, "kind": "runtime"|"timeout", "message": str}

Limits: RLIMIT_AS (memory: a huge allocation raises MemoryError), RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CORE, and a
per-request RLIMIT_CPU soft limit whose SIGXCPU raises inside the grader. The parent adds a wall-clock kill. Audit
hooks refuse sockets, subprocesses, forks, ctypes and changing rlimits while grader code runs; in "bare" mode
(no bubblewrap) they also refuse opening files outside the interpreter's own library and the scratch folder.
"""

import builtins
import gc
import json
import math
import os
import resource
import signal
import sys
import traceback

MEMORY = int(sys.argv[1])
FILE_SIZE = int(sys.argv[2])
MODE = sys.argv[3] if len(sys.argv) > 3 else "bwrap"

proto_in = os.fdopen(os.dup(0), "rb")
proto_out = os.fdopen(os.dup(1), "wb")
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)

resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE, FILE_SIZE))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


class CpuTimeExceeded(BaseException):
    """Raised in grader code when its CPU budget runs out (SIGXCPU from RLIMIT_CPU)."""


def _on_xcpu(_signum, _frame):
    raise CpuTimeExceeded()


signal.signal(signal.SIGXCPU, _on_xcpu)

_in_grader = False
_BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "ctypes.", "pty.", "os.fork")
_BLOCKED = {"os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "resource.setrlimit", "resource.prlimit", "signal.pthread_kill", "sys.addaudithook", "os.putenv", "os.unsetenv"}
_ALLOWED_READ = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/dev/null", "/proc/self")})
_SCRATCH = os.path.realpath(os.getcwd())


def _audit(event, args):
    if not _in_grader:
        return
    if event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES):
        raise PermissionError(f"{event} is not allowed in a python grader (no network, no processes)")
    if MODE == "bare" and event == "open" and args and isinstance(args[0], (str, bytes)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if not (path.startswith(_ALLOWED_READ) or path.startswith(_SCRATCH + os.sep)):
            raise PermissionError(f"reading {path} is not allowed in a python grader")


sys.addaudithook(_audit)

# Warm the modules graders use most, so their import cost is paid once per worker.
import collections, difflib, functools, itertools, random, re, statistics, string, unicodedata  # noqa: E401,F401,E402

_grade = None


def _error_message(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<grader>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    text = f"{type(exc).__name__}: {exc}{where}"
    return text[:2000]


def _load(src):
    namespace = {"__name__": "grader", "__builtins__": builtins}
    exec(compile(src, "<grader>", "exec"), namespace)
    grade = namespace.get("grade")
    if not callable(grade):
        raise TypeError("the source does not define grade(sample, item)")
    return grade


def _to_float(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if type(value).__name__ not in ("float64", "float32", "int64", "int32", "float16"):
            raise TypeError(f"grade() returned {type(value).__name__}, expected a float")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"grade() returned {value}, expected a finite float")
    return value


def _handle(req):
    global _grade, _in_grader
    used = resource.getrusage(resource.RUSAGE_SELF)
    # Soft limit at ceil(now + budget): the grader gets between `cpu` and `cpu + 1` seconds of CPU.
    budget = math.ceil(used.ru_utime + used.ru_stime + max(1, int(req.get("cpu", 10))))
    resource.setrlimit(resource.RLIMIT_CPU, (budget, resource.RLIM_INFINITY))
    _in_grader = True
    try:
        if "src" in req:
            _grade = _load(req["src"])
        if _grade is None:
            raise RuntimeError("no grader source loaded")
        value = _grade(req.get("sample"), req.get("item"))
        _in_grader = False
        return {"ok": True, "value": _to_float(value)}
    except CpuTimeExceeded:
        _in_grader = False
        return {"ok": False, "kind": "timeout", "message": f"CPU time limit exceeded ({req.get('cpu', 10)} s)"}
    except MemoryError:
        _in_grader = False
        gc.collect()
        return {"ok": False, "kind": "runtime", "message": f"MemoryError: the grader exceeded its memory limit ({MEMORY // (1024 * 1024)} MiB)"}
    except BaseException as exc:  # noqa: BLE001 - any failure of grader code is a runtime error, never a crash
        _in_grader = False
        return {"ok": False, "kind": "runtime", "message": _error_message(exc)}
    finally:
        _in_grader = False


def main():
    for line in proto_in:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        res = _handle(req)
        res["id"] = req.get("id")
        try:
            out = json.dumps(res)
        except (TypeError, ValueError):
            out = json.dumps({"id": req.get("id"), "ok": False, "kind": "runtime", "message": "unserialisable result"})
        proto_out.write(out.encode() + b"\n")
        proto_out.flush()


main()
