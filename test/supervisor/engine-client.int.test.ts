import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  EngineClient,
  EngineDiedError,
  EngineOpError,
  EngineProtocolError,
  EngineTimeoutError,
} from "../../gpu-runner/supervisor/engine-client.ts";

// A stand-in engine that misbehaves on request (test/supervisor/stub-engine.py): the failure paths of the
// client cannot be provoked on demand from the real engine. The real engine is exercised in loop.int.test.ts.
const STUB = path.join(path.dirname(fileURLToPath(import.meta.url)), "stub-engine.py");
const Any = z.unknown();

/** The error a promise rejects with (the test fails if it resolves). */
async function died(p: Promise<unknown>): Promise<EngineDiedError> {
  try {
    await p;
  } catch (err) {
    return err as EngineDiedError;
  }
  throw new Error("expected a rejection");
}

describe("engine client (stub engine)", () => {
  it("matches replies to requests in order and checks their shape", async () => {
    const engine = await EngineClient.start({ script: STUB });
    const [a, b] = await Promise.all([
      engine.request("echo", { x: 1 }, Any, 5000),
      engine.request("echo", { x: 2 }, Any, 5000),
    ]);
    expect(a).toMatchObject({ op: "echo", x: 1 });
    expect(b).toMatchObject({ op: "echo", x: 2 });
    // A non-JSON stdout line is kept with the logs, not treated as a reply.
    expect(engine.stderr().some((l) => l.includes("[stdout] not json on stdout"))).toBe(true);
    await expect(engine.request("fail", {}, Any, 5000)).rejects.toBeInstanceOf(EngineOpError);
    await expect(engine.optimStep({ learning_rate: 1, max_grad_norm: 1 })).rejects.toThrow(EngineProtocolError);
    await engine.shutdown();
  });

  it("reports engine death with the exit code and the last 20 stderr lines", async () => {
    const engine = await EngineClient.start({ script: STUB });
    const err = await died(engine.request("crash", {}, Any, 5000));
    expect(err).toBeInstanceOf(EngineDiedError);
    expect(err.exitCode).toBe(3);
    expect(err.op).toBe("crash");
    expect(err.stderrTail).toHaveLength(20);
    expect(err.message).toMatch(/exited with code 3 during 'crash'/);
    expect(err.message).toContain("CUDA out of memory (stub)");
    // Later calls fail the same way at once.
    await expect(engine.request("echo", {}, Any, 5000)).rejects.toBe(err);
  });

  it("reports a kill by signal", async () => {
    const engine = await EngineClient.start({ script: STUB });
    const pending = engine.request("hang", {}, Any, 60_000);
    setTimeout(() => process.kill(engine.pid!, "SIGKILL"), 200);
    const err = await died(pending);
    expect(err).toBeInstanceOf(EngineDiedError);
    expect(err.signal).toBe("SIGKILL");
    expect(err.message).toMatch(/killed by SIGKILL during 'hang'/);
  });

  it("times out a hung op, stops the engine, and fails what was queued behind it", async () => {
    const engine = await EngineClient.start({ script: STUB });
    const hung = engine.request("hang", {}, Any, 300);
    const queued = engine.request("echo", {}, Any, 60_000);
    await expect(hung).rejects.toBeInstanceOf(EngineTimeoutError);
    await expect(queued).rejects.toBeInstanceOf(EngineTimeoutError);
    await engine.waitExit();
  });

  it("stops on a reply with the wrong id", async () => {
    const engine = await EngineClient.start({ script: STUB });
    await expect(engine.request("wrong_id", {}, Any, 5000)).rejects.toThrow(/answered id \d+ while id \d+/);
    await engine.waitExit();
  });

  it("fails to start with the engine's stderr when the script cannot run", async () => {
    const err = await died(EngineClient.start({ script: "/nonexistent/engine.py" }));
    expect(err).toBeInstanceOf(EngineDiedError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/No such file/);
  });
});
