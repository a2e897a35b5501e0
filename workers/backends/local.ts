/**
 * Local runner backend (the embedded default): each run is a child process on this machine,
 *
 *   node_modules/.bin/tsx gpu-runner/supervisor/remote-main.ts --api <url>
 *
 * with the token in its environment (`RFT_RUN_TOKEN`, not on the command line, where `ps` would show it), its
 * own work folder `<dataDir>/runs/<runId>/` (downloads, checkpoints, engine log) and its output in
 * `<dataDir>/runs/<runId>/runner.log`. The child is a process-group leader, so cancel stops the engine under it
 * too, and it outlives an API restart: it talks to the API over HTTP and simply carries on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunLaunch, RunnerBackend, RunState } from "./port.ts";

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface LocalBackendOptions {
  /** Run folders go under `<dataDir>/runs/`. */
  dataDir: string;
  /** The program and arguments before `--api`; default: tsx + the supervisor's HTTP entry. */
  command?: readonly string[];
  /** Extra environment for the child (e.g. `RFT_CACHE_DIR`, the engine's python). */
  env?: Record<string, string>;
  /** Milliseconds between SIGTERM and SIGKILL on cancel. */
  killGraceMs?: number;
  /** Kill the runs this process started on `close()` (tests); by default they outlive the API. */
  stopRunsOnClose?: boolean;
}

export function defaultLocalCommand(): string[] {
  return [join(REPO_ROOT, "node_modules/.bin/tsx"), join(REPO_ROOT, "gpu-runner/supervisor/remote-main.ts")];
}

/** ref = `<pid>:<runId>`; the pid is what cancel and inspect need after an API restart. */
const parseRef = (ref: string) => {
  const pid = Number(ref.split(":")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
};

export function createLocalBackend(options: LocalBackendOptions): RunnerBackend {
  const command = options.command ?? defaultLocalCommand();
  const children = new Map<number, ChildProcess>();
  const grace = options.killGraceMs ?? 10_000;

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

  return {
    name: "local",

    async launch(run: RunLaunch) {
      const [program, ...args] = command;
      if (!program) throw new Error("local backend: empty command");
      const workDir = join(resolve(options.dataDir), "runs", run.runId);
      mkdirSync(workDir, { recursive: true });
      const log = openSync(join(workDir, "runner.log"), "a");
      const child = spawn(program, [...args, "--api", run.apiBaseUrl, "--work-dir", workDir], {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ["ignore", log, log],
        env: {
          ...process.env,
          ...options.env,
          RFT_API_URL: run.apiBaseUrl,
          RFT_RUN_TOKEN: run.token,
          RFT_WORK_DIR: workDir,
          RFT_CACHE_DIR: options.env?.RFT_CACHE_DIR ?? join(resolve(options.dataDir), "runner-cache"),
        },
      });
      const pid = await new Promise<number>((resolvePid, reject) => {
        child.once("error", reject);
        child.once("spawn", () => resolvePid(child.pid!));
      });
      children.set(pid, child);
      child.once("exit", () => {
        // Keep the entry a while so inspect() can still say 'exited' from the exit code, then forget it.
        setTimeout(() => children.delete(pid), 10 * 60_000).unref();
      });
      child.unref();
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
      if (!options.stopRunsOnClose) return;
      await Promise.all([...children.keys()].map((pid) => stop(pid)));
    },
  };
}
