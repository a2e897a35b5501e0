/**
 * Local runner backend (the embedded default): each run is a child process on this machine,
 *
 *   node --import tsx gpu-runner/supervisor/remote-main.ts --api <url>
 *
 * with the token in its environment (`RFT_RUN_TOKEN`, not on the command line, where `ps` would show it), its
 * own work folder `<dataDir>/runs/<runId>/` (downloads, checkpoints, engine log) and its output in
 * `<dataDir>/runs/<runId>/runner.log`. The child is a process-group leader, so cancel stops the engine under it
 * too, and it outlives an API restart: it talks to the API over HTTP and simply carries on.
 *
 * Warm runners (`warmRunners`, default 0 = every run starts cold): that many supervisors are kept started ahead of
 * time (`remote-main.ts --warm`), each with its engine up and torch, transformers and peft imported (~5 s of a small
 * CPU). A launch hands its run (API URL, token, work folder) to a warm one over its IPC channel, renames the warm
 * one's log file to the run's `runner.log`, and starts the next warm one in the background. From then on it is an
 * ordinary run: same process group, same ref, same cancel and inspect. A warm runner exits if this process goes
 * away before handing it a run; one whose engine cannot start makes the backend start runs cold again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { RunLaunch, RunnerBackend, RunState } from "./port.ts";

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface LocalBackendOptions {
  /** Run folders go under `<dataDir>/runs/`. */
  dataDir: string;
  /** The program and arguments before `--api`; default: node with tsx + the supervisor's HTTP entry. */
  command?: readonly string[];
  /** Extra environment for the child (e.g. `RFT_CACHE_DIR`, the engine's python). */
  env?: Record<string, string>;
  /** Milliseconds between SIGTERM and SIGKILL on cancel. */
  killGraceMs?: number;
  /** Kill the runs this process started on `close()` (tests); by default they outlive the API. */
  stopRunsOnClose?: boolean;
  /**
   * Supervisors kept started, engine up, waiting for a run (default 0: every run starts cold). Only with the default
   * command: another program does not speak `--warm`.
   */
  warmRunners?: number;
  /** Told what the warm pool does (a runner that could not start, the pool switched off). */
  log?: (line: string) => void;
}

/** The local backend, plus what only it has: the warm pool. */
export interface LocalBackend extends RunnerBackend {
  /** Resolves once every warm runner has its engine up (at once with no pool); benchmarks start their clocks here. */
  whenWarm(): Promise<void>;
  /** Stops the idle warm runners (and, with `stopRunsOnClose`, the runs this process started). */
  close(): Promise<void>;
}

export function defaultLocalCommand(): string[] {
  // `node --import tsx` rather than the tsx CLI: one process (the CLI forks a second node), and the IPC channel a
  // warm runner is handed its run on reaches the supervisor itself.
  return [process.execPath, "--import", "tsx", join(REPO_ROOT, "gpu-runner/supervisor/remote-main.ts")];
}

/** A warm runner: started, engine (soon) up, waiting for a run on its IPC channel. */
type Warm = {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** It listens on its channel (a message sent before that would be lost). */
  listening: Promise<boolean>;
  /** Its engine is up. */
  ready: Promise<boolean>;
};

/** After this many warm runners in a row die before getting a run, runs start cold (the engine cannot start here). */
const MAX_WARM_FAILURES = 3;
const LISTEN_TIMEOUT_MS = 60_000;

/** Removes the logs of warm runners whose parent process is gone (those runners exited with it). */
function removeOrphanedWarmLogs(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const parent = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!parent || parent === process.pid) continue;
    try {
      process.kill(parent, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(dir, name), { force: true });
    }
  }
}

/** ref = `<pid>:<runId>`; the pid is what cancel and inspect need after an API restart. */
const parseRef = (ref: string) => {
  const pid = Number(ref.split(":")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
};

export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
  const command = options.command ?? defaultLocalCommand();
  const children = new Map<number, ChildProcess>();
  const grace = options.killGraceMs ?? 10_000;
  const dataDir = resolve(options.dataDir);
  const log = options.log ?? ((line: string) => console.error(line));
  let warmTarget = options.command ? 0 : Math.max(0, options.warmRunners ?? 0);
  const pool: Warm[] = [];
  let warmFailures = 0;
  let closed = false;

  /** The child's environment: this process's, the operator's extras, the cache; a cold run adds its own. */
  const baseEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    ...options.env,
    RFT_CACHE_DIR: options.env?.RFT_CACHE_DIR ?? join(dataDir, "runner-cache"),
  });

  function startWarm(): void {
    const [program, ...args] = command;
    if (!program) return;
    const dir = join(dataDir, "runs", ".warm");
    mkdirSync(dir, { recursive: true });
    // Named after this process, so a later backend can tell the logs of warm runners whose parent died (they exit).
    const logFile = join(dir, `${process.pid}-${randomUUID()}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(program, [...args, "--warm"], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", fd, fd, "ipc"],
      env: baseEnv(),
    });
    closeSync(fd); // the child has its own copy
    if (!child.pid) {
      // The spawn itself failed ('error' follows): count it like a warm runner that died.
      child.once("error", () => {});
      warmFailed();
      return;
    }
    const pid = child.pid;
    const said = (type: string) =>
      new Promise<boolean>((res) => {
        child.on("message", (m) => {
          if ((m as { type?: string }).type === type) res(true);
        });
        child.once("exit", () => res(false));
      });
    const warm: Warm = { child, pid, logFile, listening: said("listening"), ready: said("ready") };
    child.once("exit", () => {
      const at = pool.indexOf(warm);
      if (at < 0) return; // handed a run: an ordinary run from here
      pool.splice(at, 1);
      rmSync(logFile, { force: true });
      if (!closed) warmFailed();
    });
    // Neither the child nor its channel keeps this process alive; the child exits when the channel closes.
    child.unref();
    child.channel?.unref();
    pool.push(warm);
  }

  function warmFailed(): void {
    warmFailures++;
    if (warmFailures >= MAX_WARM_FAILURES) {
      log(`local backend: ${warmFailures} warm runners in a row died before getting a run; runs start cold from now`);
      warmTarget = 0;
      return;
    }
    fillPool();
  }

  function fillPool(): void {
    while (!closed && pool.length < warmTarget) startWarm();
  }

  /** Hands the run to a warm runner; null when none is alive. */
  async function launchWarm(run: RunLaunch, workDir: string): Promise<number | null> {
    for (let warm = pool.shift(); warm; warm = pool.shift()) {
      const { child, pid } = warm;
      // A runner that does not listen within a minute (stopped, stuck) is not waited for: the run starts cold.
      const listening = await Promise.race([warm.listening, sleep(LISTEN_TIMEOUT_MS, false, { ref: false })]);
      const discard = () => {
        killGroup(pid, "SIGKILL");
        rmSync(warm.logFile, { force: true });
      };
      if (!listening || !child.connected || child.exitCode !== null || child.signalCode !== null) {
        discard();
        continue;
      }
      try {
        // The child writes to this inode whatever its name: the rename makes its output the run's runner.log.
        renameSync(warm.logFile, join(workDir, "runner.log"));
        child.send({ type: "run", api_url: run.apiBaseUrl, token: run.token, work_dir: workDir });
      } catch {
        discard();
        continue;
      }
      warmFailures = 0;
      child.removeAllListeners("message");
      track(pid, child);
      return pid;
    }
    return null;
  }

  function track(pid: number, child: ChildProcess): void {
    children.set(pid, child);
    const forget = () => {
      // Keep the entry a while so inspect() can still say 'exited' from the exit code, then forget it.
      setTimeout(() => children.delete(pid), 10 * 60_000).unref();
    };
    if (child.exitCode !== null || child.signalCode !== null) forget();
    else child.once("exit", forget);
    child.unref();
  }

  function alive(pid: number): boolean {
    const child = children.get(pid);
    if (child) return child.exitCode === null && child.signalCode === null;
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  }

  function killGroup(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  async function stop(pid: number): Promise<void> {
    if (!alive(pid)) return;
    killGroup(pid, "SIGTERM");
    const deadline = Date.now() + grace;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) killGroup(pid, "SIGKILL");
  }

  if (warmTarget > 0) removeOrphanedWarmLogs(join(dataDir, "runs", ".warm"));
  fillPool();

  return {
    name: "local",

    async launch(run: RunLaunch) {
      const [program, ...args] = command;
      if (!program) throw new Error("local backend: empty command");
      const workDir = join(dataDir, "runs", run.runId);
      mkdirSync(workDir, { recursive: true });
      const warmPid = await launchWarm(run, workDir);
      if (warmPid !== null) {
        fillPool();
        return { ref: `${warmPid}:${run.runId}` };
      }
      const log = openSync(join(workDir, "runner.log"), "a");
      const child = spawn(program, [...args, "--api", run.apiBaseUrl, "--work-dir", workDir], {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ["ignore", log, log],
        env: { ...baseEnv(), RFT_API_URL: run.apiBaseUrl, RFT_RUN_TOKEN: run.token, RFT_WORK_DIR: workDir },
      });
      closeSync(log); // the child has its own copy
      const pid = await new Promise<number>((resolvePid, reject) => {
        child.once("error", reject);
        child.once("spawn", () => resolvePid(child.pid!));
      });
      track(pid, child);
      fillPool();
      return { ref: `${pid}:${run.runId}` };
    },

    async cancel(ref) {
      const pid = parseRef(ref);
      if (pid) await stop(pid);
    },

    async inspect(ref): Promise<RunState> {
      const pid = parseRef(ref);
      if (!pid) return "unknown";
      // After an API restart a pid may have been reused by an unrelated process: that reads as 'running' and the
      // heartbeat timeout is what catches such a run.
      return alive(pid) ? "running" : "exited";
    },

    async close() {
      closed = true;
      const warm = pool.splice(0);
      await Promise.all(
        warm.map(async (w) => {
          await stop(w.pid);
          rmSync(w.logFile, { force: true });
        }),
      );
      if (!options.stopRunsOnClose) return;
      await Promise.all([...children.keys()].map((pid) => stop(pid)));
    },

    async whenWarm() {
      await Promise.all(pool.map((w) => w.ready));
    },
  };
}
