"""A stand-in engine for the engine client's failure tests (named as such: it does no tensor work).

It speaks the protocol's envelope and misbehaves on purpose, depending on the op:
  crash      -> writes a traceback-like stderr and exits 3
  hang       -> never answers
  wrong_id   -> answers with another id
  bad_shape  -> answers ok with a result that is not the op's shape
  fail       -> answers ok: false
  echo/other -> answers ok with the request as the result
"""
import json
import sys
import time

print("stub engine starting", file=sys.stderr, flush=True)
print(json.dumps({"id": 0, "ok": True, "result": {"ready": True, "protocol": 1}}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    op = req.get("op")
    if op == "crash" or (op == "init" and req.get("model_path") == "crash"):
        for i in range(30):
            print(f"stderr line {i}", file=sys.stderr)
        print("Traceback (most recent call last):\nRuntimeError: CUDA out of memory (stub)", file=sys.stderr, flush=True)
        sys.exit(3)
    if op == "hang":
        time.sleep(3600)
    if op == "wrong_id":
        print(json.dumps({"id": req["id"] + 100, "ok": True, "result": {}}), flush=True)
        continue
    if op == "bad_shape":
        print(json.dumps({"id": req["id"], "ok": True, "result": {"step": "three"}}), flush=True)
        continue
    if op == "fail":
        print(json.dumps({"id": req["id"], "ok": False, "error": {"type": "invalid_request", "message": "no"}}), flush=True)
        continue
    if op == "shutdown":
        print(json.dumps({"id": req["id"], "ok": True, "result": {}}), flush=True)
        sys.exit(0)
    print("not json on stdout", flush=True)
    print(json.dumps({"id": req["id"], "ok": True, "result": req}), flush=True)
