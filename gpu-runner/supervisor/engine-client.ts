import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { z } from "zod";
import {
  EngineReply,
  type ForwardBackwardArgs,
  ForwardBackwardResult,
  type InitArgs,
  InitResult,
  OptimStepResult,
  ReadyResult,
  type SampleArgs,
  SampleResult,
  SaveResult,
  ShutdownResult,
} from "./engine-schemas.ts";
import { ENGINE_SCRIPT, findPython } from "./python.ts";

/** The engine process ended (crashed, was killed, or exited) while the supervisor still needed it. */
export class EngineDiedError extends Error {
  override readonly name = "EngineDiedError";
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string[],
    readonly op?: string,
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    const during = op ? ` during '${op}'` : "";
    const tail = stderrTail.length > 0 ? `; last stderr lines:\n${stderrTail.join("\n")}` : " (no stderr output)";
    super(`trainer engine ${how}${during}${tail}`);
  }
}

/** The engine answered a request with `ok: false`. */
export class EngineOpError extends Error {
  override readonly name = "EngineOpError";
  constructor(
    readonly op: string,
    readonly type: string,
    readonly detail: string,
  ) {
    super(`engine op '${op}' failed (${type}): ${detail}`);
  }
}

/** The engine did not answer in time; it is killed, because later replies could no longer be matched. */
export class EngineTimeoutError extends Error {
  override readonly name = "EngineTimeoutError";
  constructor(
    readonly op: string,
    readonly timeoutMs: number,
    readonly stderrTail: string[],
  ) {
    super(
      `engine op '${op}' gave no answer within ${Math.round(timeoutMs / 1000)} s; the engine was stopped` +
        (stderrTail.length > 0 ? `; last stderr lines:\n${stderrTail.join("\n")}` : ""),
    );
  }
}

/** The engine wrote something that is not the protocol. */
export class EngineProtocolError extends Error {
  override readonly name = "EngineProtocolError";
}

export type EngineTimeouts = {
  /** Until the ready line (imports of torch/transformers take a while). */
  startMs: number;
  init: number;
  sample: number;
  forward_backward: number;
  optim_step: number;
  save: number;
  export_onnx: number;
  shutdown: number;
};

export const DEFAULT_TIMEOUTS: EngineTimeouts = {
  startMs: 120_000,
  init: 600_000,
  sample: 900_000,
  forward_backward: 900_000,
  optim_step: 300_000,
  save: 900_000,
  export_onnx: 1_800_000,
  shutdown: 30_000,
};

export type EngineClientOptions = {
  python?: string;
  script?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeouts?: Partial<EngineTimeouts>;
  /** Every stderr line of the engine, as it arrives (logs, warnings, tracebacks). */
  onStderr?: (line: string) => void;
  /** How many stderr lines an error carries. */
  stderrTailLines?: number;
};

type Pending = {
  id: number;
  op: string;
  schema: z.ZodType;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

/**
 * A client for one trainer engine process (gpu-runner/trainer/PROTOCOL.md): line-delimited JSON on stdio,
 * increasing request ids, replies matched in order and checked with zod, a timeout per op. Once the engine
 * dies every pending and later call rejects with an {@link EngineDiedError} carrying the exit code and the
 * last stderr lines.
 */
export class EngineClient {
  private readonly child: ChildProcess;
  private readonly pending: Pending[] = [];
  private readonly stderrTail: string[] = [];
  private readonly tailSize: number;
  private readonly timeouts: EngineTimeouts;
  private nextId = 1;
  private dead: Error | undefined;
  private exited: Promise<void>;
  private ready: Promise<void>;

  private constructor(options: EngineClientOptions) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.tailSize = options.stderrTailLines ?? 20;
    const python = options.python ?? findPython();
    const script = options.script ?? ENGINE_SCRIPT;
    this.child = spawn(python, ["-u", script, ...(options.args ?? [])], {
      cwd: options.cwd,
      env: { ...process.env, PYTHONUNBUFFERED: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    // A write to a dead engine must not crash the supervisor: the exit handler reports it.
    this.child.stdin?.on("error", () => {});

    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > this.tailSize) this.stderrTail.shift();
      options.onStderr?.(line);
    });

    let readyResolve: () => void = () => {};
    let readyReject: (e: Error) => void = () => {};
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => {}); // observed via start()
    this.pending.push({
      id: 0,
      op: "start",
      schema: ReadyResult,
      resolve: () => readyResolve(),
      reject: readyReject,
      timer: this.startTimer("start", this.timeouts.startMs),
    });

    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(line));

    this.exited = new Promise<void>((resolve) => {
      this.child.on("error", (err) => {
        this.fail(new EngineDiedError(null, null, [...this.stderrTail, `spawn error: ${err.message}`]));
        resolve();
      });
      this.child.on("exit", (code, signal) => {
        // stderr may still be draining: give it a moment so the traceback is in the error.
        setTimeout(() => {
          this.fail(new EngineDiedError(code, signal, [...this.stderrTail], this.pending[0]?.op));
          resolve();
        }, 50);
      });
    });
  }

  /** Spawns the engine and waits for its ready line. */
  static async start(options: EngineClientOptions = {}): Promise<EngineClient> {
    const client = new EngineClient(options);
    try {
      await client.ready;
    } catch (err) {
      client.kill();
      throw err;
    }
    return client;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** False once the engine died, was killed or timed out: a warm engine that did so must be replaced. */
  get alive(): boolean {
    return this.dead === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last stderr lines seen so far. */
  stderr(): string[] {
    return [...this.stderrTail];
  }

  init(args: InitArgs): Promise<z.infer<typeof InitResult>> {
    return this.request("init", args, InitResult, this.timeouts.init);
  }

  sample(args: SampleArgs): Promise<z.infer<typeof SampleResult>> {
    return this.request("sample", args, SampleResult, this.timeouts.sample);
  }

  forwardBackward(args: ForwardBackwardArgs): Promise<z.infer<typeof ForwardBackwardResult>> {
    return this.request("forward_backward", args, ForwardBackwardResult, this.timeouts.forward_backward);
  }

  optimStep(args: { learning_rate: number; max_grad_norm: number }): Promise<z.infer<typeof OptimStepResult>> {
    return this.request("optim_step", args, OptimStepResult, this.timeouts.optim_step);
  }

  save(args: { path: string; merged: boolean; include_optimizer: boolean }): Promise<z.infer<typeof SaveResult>> {
    return this.request("save", args, SaveResult, this.timeouts.save);
  }

  exportOnnx(args: { path: string; opset: number }): Promise<z.infer<typeof SaveResult>> {
    return this.request("export_onnx", args, SaveResult, this.timeouts.export_onnx);
  }

  /** Asks the engine to exit, then waits for it; kills it if it does not go within the shutdown timeout. */
  async shutdown(): Promise<void> {
    if (!this.dead) {
      try {
        await this.request("shutdown", {}, ShutdownResult, this.timeouts.shutdown);
      } catch {
        // Already dying or stuck: the kill below settles it.
      }
    }
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), this.timeouts.shutdown);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the engine at once (SIGKILL). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  /** Resolves once the process has exited. */
  waitExit(): Promise<void> {
    return this.exited;
  }

  /** Sends any op and checks its result with `schema` (the typed methods above are built on it). */
  request<S extends z.ZodType>(op: string, args: object, schema: S, timeoutMs: number): Promise<z.infer<S>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<z.infer<S>>((resolve, reject) => {
      this.pending.push({
        id,
        op,
        schema,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: this.startTimer(op, timeoutMs),
      });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  private startTimer(op: string, timeoutMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.fail(new EngineTimeoutError(op, timeoutMs, [...this.stderrTail]));
      this.kill();
    }, timeoutMs);
    timer.unref();
    return timer;
  }

  private onLine(line: string): void {
    const trimmed = line.trim();
    if (trimmed === "") return;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      // Some library printed to stdout: keep it with the logs rather than break the protocol.
      this.stderrTail.push(`[stdout] ${trimmed}`);
      if (this.stderrTail.length > this.tailSize) this.stderrTail.shift();
      return;
    }
    const parsed = EngineReply.safeParse(json);
    if (!parsed.success) {
      this.protocolFailure(`engine wrote a line that is not a reply: ${trimmed.slice(0, 300)}`);
      return;
    }
    const reply = parsed.data;
    const head = this.pending[0];
    if (!head || head.id !== reply.id) {
      this.protocolFailure(
        `engine answered id ${reply.id} while ${head ? `id ${head.id} (${head.op})` : "nothing"} was pending`,
      );
      return;
    }
    this.pending.shift();
    clearTimeout(head.timer);
    if (!reply.ok) {
      head.reject(new EngineOpError(head.op, reply.error.type, reply.error.message));
      return;
    }
    const result = head.schema.safeParse(reply.result);
    if (!result.success) {
      const issue = result.error.issues[0];
      head.reject(
        new EngineProtocolError(
          `engine reply to '${head.op}' has an unexpected shape at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
        ),
      );
      return;
    }
    head.resolve(result.data);
  }

  private protocolFailure(message: string): void {
    this.fail(new EngineProtocolError(message));
    this.kill();
  }

  private fail(err: Error): void {
    if (!this.dead) this.dead = err;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
