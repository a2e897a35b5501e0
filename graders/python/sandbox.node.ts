/**
 * Node-only `PythonRunner`: a pool of warm python interpreters, each inside bubblewrap, answering
 * `grade(sample, item)` requests as JSON lines (harness.py), with requests pipelined per worker.
 *
 * Isolation with bubblewrap (`--unshare-all`: own user, pid, net, ipc, uts, cgroup namespaces; only /usr
 * read-only, a private /proc, /dev and a size-capped tmpfs /tmp; no host files, no environment; dies with us).
 * Inside, the harness sets RLIMIT_AS / FSIZE / NOFILE / CORE, a per-request RLIMIT_CPU, and audit hooks that refuse
 * sockets and processes. Here, a wall-clock timer per request kills the worker's process group and starts a fresh
 * one; requests queued behind the killed one are re-sent elsewhere.
 *
 * Without bubblewrap (not installed, or no user namespaces), workers run the same harness directly, with the
 * rlimits, an empty scratch folder as cwd, an empty environment, and audit hooks that also refuse opening files
 * outside the interpreter's library. That is WEAKER: audit hooks are not a security boundary (C extensions can
 * bypass them). `isolation` says which mode is active and a warning is logged once.
 *
 * Each worker is bound to one grader source: different graders never share an interpreter, so one grader cannot
 * leave state behind for another.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PythonOutcome, PythonRunner, PythonRunRequest } from "../ports.ts";

export interface PythonSandboxOptions {
  /** Interpreter inside the sandbox. Default /usr/bin/python3 (Debian's; /usr is bound read-only). */
  python?: string;
  /** bubblewrap binary; default `bwrap` on PATH. Set to null to force the weaker direct mode. */
  bwrap?: string | null;
  /** Extra host paths bound read-only at the same place (a venv with numpy, its base interpreter). */
  readOnlyBinds?: string[];
  /** Workers in the pool. Default: available cores. */
  workers?: number;
  /** Requests in flight per worker (pipelining). Default 32. */
  pipelineDepth?: number;
  /** Default wall-clock limit per grading. Default 30 s. */
  timeoutMs?: number;
  /** Address-space limit per worker. Default 1 GiB. */
  memoryBytes?: number;
  /** Largest file a grader may write, and the size of its /tmp. Default 16 MiB / 64 MiB. */
  fileSizeBytes?: number;
  tmpBytes?: number;
  /** Called once with a warning when falling back to the weaker mode. Default console.warn. */
  warn?: (message: string) => void;
}

interface Job {
  id: number;
  request: PythonRunRequest;
  resolve: (outcome: PythonOutcome) => void;
  attempts: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * harness.py: beside this module, or, when this module is part of a bundle (the server's `dist/node/server.mjs`),
 * the repository's copy in a folder above the bundle.
 */
function findHarness(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    for (const file of [join(dir, "harness.py"), join(dir, "graders/python/harness.py")]) {
      if (existsSync(file)) return file;
    }
    if (dirname(dir) === dir) throw new Error("python graders: harness.py not found beside the code");
  }
}
const HARNESS = readFileSync(findHarness(), "utf8");
const MAX_ATTEMPTS = 3;

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

class Worker {
  readonly proc: ChildProcess;
  readonly inFlight: Job[] = [];
  source: string | null = null;
  dead = false;
  private buffer = "";
  private stderrTail = "";
  private headTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pool: PythonSandbox,
    command: string,
    args: string[],
    cwd: string | undefined,
  ) {
    this.proc = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
      env: {},
      ...(cwd ? { cwd } : {}),
    });
    this.proc.stdout!.setEncoding("utf8");
    this.proc.stdout!.on("data", (chunk: string) => this.onData(chunk));
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    this.proc.stdin!.on("error", () => {});
    this.proc.on("error", (err) => this.onExit(`could not start the python sandbox: ${err.message}`, "server"));
    this.proc.on("exit", (code, signal) =>
      this.onExit(
        `the python worker exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`,
        "runtime",
      ),
    );
  }

  send(job: Job): void {
    const first = this.source === null;
    this.source = job.request.source;
    this.inFlight.push(job);
    // CPU budget 60% of the wall-clock one, so a busy loop ends with the clean in-process error (worker kept)
    // before the wall clock has to kill the worker.
    const cpu = Math.max(1, Math.floor((0.6 * (job.request.timeoutMs ?? this.pool.timeoutMs)) / 1000));
    const line = JSON.stringify({
      id: job.id,
      cpu,
      ...(first ? { src: job.request.source } : {}),
      sample: job.request.sample,
      item: job.request.item,
    });
    this.proc.stdin!.write(`${line}\n`);
    if (this.inFlight.length === 1) this.armHead();
  }

  /** The head of the queue is the request running now: its wall-clock budget starts here. */
  private armHead(): void {
    clearTimeout(this.headTimer);
    const head = this.inFlight[0];
    if (!head) return;
    const ms = head.request.timeoutMs ?? this.pool.timeoutMs;
    this.headTimer = setTimeout(
      () =>
        this.killHead({ ok: false, kind: "timeout", message: `the grader ran longer than ${ms} ms and was stopped` }),
      ms,
    );
  }

  /** Ends the running request with `outcome`, kills the worker, hands the queued requests back to the pool. */
  killHead(outcome: PythonOutcome): void {
    const head = this.inFlight.shift();
    if (head) this.pool.finish(head, outcome);
    this.kill();
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.headTimer);
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, "SIGKILL");
    } catch {}
    const orphans = this.inFlight.splice(0);
    this.pool.retire(this, orphans);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      nl = this.buffer.indexOf("\n");
      let msg: { id?: unknown; ok?: unknown; value?: unknown; kind?: unknown; message?: unknown };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      const head = this.inFlight[0];
      if (!head || msg.id !== head.id) continue;
      this.inFlight.shift();
      const outcome: PythonOutcome =
        msg.ok === true && typeof msg.value === "number"
          ? { ok: true, value: msg.value }
          : {
              ok: false,
              kind: msg.kind === "timeout" ? "timeout" : "runtime",
              message: String(msg.message ?? "grader failed"),
            };
      this.pool.finish(head, outcome);
      this.armHead();
    }
    if (this.inFlight.length === 0) clearTimeout(this.headTimer);
    this.pool.pump();
  }

  private onExit(message: string, kind: "runtime" | "server"): void {
    if (this.dead) return;
    const head = this.inFlight.shift();
    if (head) this.pool.finish(head, { ok: false, kind, message });
    this.kill();
  }
}

/** The warm, sandboxed python pool. Create with `createPythonSandbox`. */
export class PythonSandbox implements PythonRunner {
  readonly isolation: string;
  readonly timeoutMs: number;
  private readonly workers: Worker[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly size: number;
  private readonly depth: number;
  private readonly command: string;
  private readonly args: string[];
  private readonly scratch: string | undefined;

  constructor(opts: PythonSandboxOptions, bwrap: string | null, fallbackReason: string | null) {
    const python = opts.python ?? "/usr/bin/python3";
    this.size = Math.max(1, opts.workers ?? availableParallelism());
    this.depth = Math.max(1, opts.pipelineDepth ?? 32);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const memory = String(opts.memoryBytes ?? 1024 ** 3);
    const fileSize = String(opts.fileSizeBytes ?? 16 * 1024 ** 2);
    if (bwrap) {
      const binds = (opts.readOnlyBinds ?? []).flatMap((p) => ["--ro-bind", p, p]);
      this.command = bwrap;
      // biome-ignore format: one flag per line reads better
      this.args = [
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
        ...binds,
        "--proc", "/proc", "--dev", "/dev",
        "--size", String(opts.tmpBytes ?? 64 * 1024 ** 2), "--tmpfs", "/tmp",
        "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox",
        "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp", "--chdir", "/tmp",
        python, "-I", "-c", HARNESS, memory, fileSize, "bwrap",
      ];
      this.isolation = "bubblewrap";
      this.scratch = undefined;
    } else {
      this.command = python;
      this.args = ["-I", "-c", HARNESS, memory, fileSize, "bare"];
      this.scratch = mkdtempSync(join(tmpdir(), "rft-pygrader-"));
      this.isolation = `rlimits+audit-hooks (weaker: ${fallbackReason})`;
      (opts.warn ?? console.warn)(
        `python graders run WITHOUT bubblewrap (${fallbackReason}): only rlimits and audit hooks isolate grader code. Install bubblewrap (apt-get install -y bubblewrap).`,
      );
    }
  }

  run(request: PythonRunRequest, options: { signal?: AbortSignal } = {}): Promise<PythonOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, kind: "server", message: "the python runner is closed" });
    return new Promise((resolve) => {
      const job: Job = {
        id: this.nextId++,
        request,
        resolve,
        attempts: 0,
        ...(options.signal ? { signal: options.signal } : {}),
      };
      if (options.signal) {
        if (options.signal.aborted) return resolve({ ok: false, kind: "timeout", message: "cancelled" });
        job.onAbort = () => this.abort(job);
        options.signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Resolves a job once. */
  finish(job: Job, outcome: PythonOutcome): void {
    if (job.signal && job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
    const resolve = job.resolve;
    job.resolve = () => {};
    resolve(outcome);
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.finish(job, { ok: false, kind: "timeout", message: "cancelled" });
      return;
    }
    for (const w of this.workers) {
      const at = w.inFlight.indexOf(job);
      if (at === 0) {
        w.killHead({ ok: false, kind: "timeout", message: "cancelled" });
        return;
      }
      if (at > 0) {
        w.inFlight.splice(at, 1);
        // It was sent but has not started; the worker will answer it and find no one waiting.
        this.finish(job, { ok: false, kind: "timeout", message: "cancelled" });
        return;
      }
    }
  }

  /** A dead worker's queued (never started) requests go back to the front of the queue. */
  retire(worker: Worker, orphans: Job[]): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
    for (const job of orphans.reverse()) {
      if (++job.attempts >= MAX_ATTEMPTS)
        this.finish(job, { ok: false, kind: "server", message: "the python worker kept failing" });
      else this.queue.unshift(job);
    }
    queueMicrotask(() => this.pump());
  }

  /** Sends queued requests to workers bound to the same source, spawning or recycling workers as needed. */
  pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const job = this.queue[0]!;
      const worker = this.pick(job.request.source);
      if (!worker) return;
      this.queue.shift();
      worker.send(job);
    }
  }

  private pick(source: string): Worker | null {
    let best: Worker | null = null;
    for (const w of this.workers) {
      if (w.dead || w.source !== source || w.inFlight.length >= this.depth) continue;
      if (!best || w.inFlight.length < best.inFlight.length) best = w;
    }
    // Prefer a new worker over deepening a pipeline, while the pool has room.
    if (best && best.inFlight.length === 0) return best;
    if (this.workers.length < this.size) return this.spawn();
    if (best) return best;
    const idle = this.workers.find((w) => w.inFlight.length === 0 && w.source !== source);
    if (idle) {
      idle.kill();
      return this.spawn();
    }
    return null;
  }

  private spawn(): Worker {
    const w = new Worker(this, this.command, this.args, this.scratch);
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      this.finish(job, { ok: false, kind: "server", message: "the python runner is closed" });
    for (const w of [...this.workers]) {
      for (const job of w.inFlight.splice(0))
        this.finish(job, { ok: false, kind: "server", message: "the python runner is closed" });
      w.kill();
    }
    if (this.scratch) rmSync(this.scratch, { recursive: true, force: true });
  }
}

/**
 * Builds the pool, probing bubblewrap once (it can be installed yet unusable, e.g. without user namespaces).
 */
export function createPythonSandbox(opts: PythonSandboxOptions = {}): PythonSandbox {
  const python = opts.python ?? "/usr/bin/python3";
  let bwrap: string | null = null;
  let reason: string | null = null;
  if (opts.bwrap === null) reason = "bubblewrap disabled by configuration";
  else {
    const candidate = opts.bwrap ?? findOnPath("bwrap");
    if (!candidate) reason = "bwrap not found on PATH";
    else {
      // biome-ignore format: flags
      const probe = spawnSync(candidate, ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", python, "-I", "-c", "pass"], { timeout: 10_000, encoding: "utf8" });
      if (probe.status === 0) bwrap = candidate;
      else
        reason = `bwrap failed to start a sandbox: ${(probe.stderr || probe.error?.message || `status ${probe.status}`).trim()}`;
    }
  }
  return new PythonSandbox(opts, bwrap, reason);
}
