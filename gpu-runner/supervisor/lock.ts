import { readFileSync } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";

/**
 * One supervisor per output folder: two at once (a restart while the old process still runs) would both
 * write checkpoints and metrics. The lock is a file created exclusively, holding the owner's host and pid;
 * a lock whose process is gone (same host) is stale and taken over.
 */
export async function lockOutputDir(outputDir: string): Promise<() => Promise<void>> {
  await mkdir(outputDir, { recursive: true });
  const file = path.join(outputDir, "supervisor.lock");
  const me = `${hostname()} ${process.pid}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(me);
      await fh.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = safeRead(file);
      const [host, pidText] = owner.split(" ");
      const pid = Number(pidText);
      if (host === hostname() && Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new Error(`another supervisor (pid ${pid}) is already running in ${outputDir}; stop it first`);
      }
      // Stale (its process is gone, or it came from another machine that ran this folder before): take it over.
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock ${outputDir}`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
