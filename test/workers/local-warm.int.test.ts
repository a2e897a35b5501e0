/**
 * The local backend's warm runners, on the real supervisor (`remote-main.ts --warm`) with the real engine: a launch
 * hands the run to the warm runner (its log becomes the run's runner.log), cancel stops its whole process group
 * (the engine with it), closing the backend stops idle warm runners, and an idle warm runner whose parent dies
 * exits instead of lingering. Needs the Python environment (`.venv`); skipped without it.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hasEnginePython } from "../../gpu-runner/supervisor/python.ts";
import { createLocalBackend } from "../../workers/backends/local.ts";

const hasPython = hasEnginePython();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};
const pidsOf = (text: string, match: string) =>
  text
    .split("\n")
    .filter((l) => l.includes(match))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
/** The processes whose parent is `pid`, with their command lines ("" when there are none: ps then exits 1). */
const psChildren = (pid: number): string => {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" });
  } catch {
    return "";
  }
};

describe.skipIf(!hasPython)("warm runners of the local backend", () => {
  // An API that accepts connections and never answers: the runner stays in its spec fetch until it is cancelled.
  let silent: Server;
  afterAll(() => silent?.close());

  it("a launch goes to the warm runner; cancel stops it and its engine; close stops the idle one", async () => {
    silent = createServer(() => {}).listen(0, "127.0.0.1");
    await new Promise((r) => silent.once("listening", r));
    const port = (silent.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), "rft-warm-"));
    const backend = createLocalBackend({
      dataDir,
      warmRunners: 1,
      env: { RFT_DEVICE: "cpu", RFT_ENGINE_THREADS: "1" },
      killGraceMs: 2000,
    });
    try {
      await backend.whenWarm();
      const { ref } = await backend.launch({
        jobId: "ftjob-warm",
        runId: "run_warm1",
        token: "rft-run-test-secret",
        apiBaseUrl: `http://127.0.0.1:${port}`,
      });
      const pid = Number(ref.split(":")[0]);
      const log = join(dataDir, "runs", "run_warm1", "runner.log");
      while (!readFileSync(log, "utf8").includes("warm runner: got a run")) await sleep(50);
      const text = readFileSync(log, "utf8");
      expect(text).toContain("warm runner: engine ready, waiting for a run");
      expect(text).not.toContain("rft-run-test-secret"); // the token is never logged or on a command line
      const engines = pidsOf(psChildren(pid), "engine.py");
      expect(engines).toHaveLength(1);
      expect(await backend.inspect(ref)).toBe("running");

      // The next warm runner is already starting behind it.
      const warmDir = join(dataDir, "runs", ".warm");
      expect(readdirSync(warmDir)).toHaveLength(1);
      const nextWarm = join(warmDir, readdirSync(warmDir)[0]!);

      await backend.cancel(ref);
      expect(await backend.inspect(ref)).toBe("exited");
      while (!gone(engines[0]!)) await sleep(50);

      await backend.close();
      expect(existsSync(nextWarm)).toBe(false);
    } finally {
      await backend.close();
    }
  }, 180_000);

  it("an idle warm runner exits when the process that started it dies", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rft-warm-parent-"));
    const parent = spawn(process.execPath, ["--import", "tsx", join(__dirname, "warm-parent.ts"), dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      parent.stdout.on("data", (d: Buffer) => d.toString().includes("warm") && resolve());
      parent.once("exit", (code) => reject(new Error(`the parent exited first (${code})`)));
    });
    const [warm] = pidsOf(psChildren(parent.pid!), "--warm");
    expect(warm).toBeGreaterThan(0);
    const [engine] = pidsOf(psChildren(warm!), "engine.py");
    expect(engine).toBeGreaterThan(0);
    parent.kill("SIGKILL");
    while (!gone(warm!) || !gone(engine!)) await sleep(100);
  }, 180_000);
});
