/** Runs the Python reference scripts in the project's venv (`.venv`, see requirements-dev.txt). */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
export const VENV_PYTHON = join(ROOT, ".venv/bin/python");
export const hasVenv = existsSync(VENV_PYTHON);

/** Runs `metrics_ref.py` with `args`, feeding `input` as JSON; returns its parsed JSON output. */
export function runReference<T>(input: unknown, args: string[] = []): T {
  const res = spawnSync(VENV_PYTHON, [join(import.meta.dirname, "metrics_ref.py"), ...args], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`metrics_ref.py failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}
