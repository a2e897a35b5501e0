import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The repository root: two levels above this folder (gpu-runner/supervisor). */
export const REPO_ROOT = path.resolve(HERE, "..", "..");

/** The engine script the supervisor starts. */
export const ENGINE_SCRIPT = path.join(REPO_ROOT, "gpu-runner", "trainer", "engine.py");

function venvPython(dir: string): string | undefined {
  const candidates = [path.join(dir, ".venv", "bin", "python"), path.join(dir, ".venv", "Scripts", "python.exe")];
  return candidates.find((p) => existsSync(p));
}

/**
 * The Python interpreter that runs the trainer engine, so users never have to name it:
 * `RFT_PYTHON` if set, else the `.venv` of the repository (searched upwards from this file and from the
 * working directory), else `VIRTUAL_ENV`. Throws a message that says how to fix it when none is found.
 */
export function findPython(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const explicit = env.RFT_PYTHON;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`RFT_PYTHON points at ${explicit}, which does not exist`);
    return explicit;
  }
  for (const start of [HERE, cwd]) {
    let dir = path.resolve(start);
    for (;;) {
      const found = venvPython(dir);
      if (found) return found;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  if (env.VIRTUAL_ENV) {
    const found = [
      path.join(env.VIRTUAL_ENV, "bin", "python"),
      path.join(env.VIRTUAL_ENV, "Scripts", "python.exe"),
    ].find((p) => existsSync(p));
    if (found) return found;
  }
  throw new Error(
    "no Python environment for the trainer engine: create one with `python3 -m venv .venv && " +
      ".venv/bin/pip install -r gpu-runner/trainer/requirements.txt` in the repository root, or set RFT_PYTHON",
  );
}

/** Whether the engine's python can be found here (tests skip the engine, and the local backend its warm runners, without it). */
export function hasEnginePython(): boolean {
  try {
    findPython();
    return true;
  } catch {
    return false;
  }
}
