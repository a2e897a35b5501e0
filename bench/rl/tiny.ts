import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { findPython, REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";

export type Tiny = { model: string; train: string; valid: string };

export const DEFAULT_TINY_DIR = path.join(REPO_ROOT, ".tmp", "tiny-addition");

/** The tiny addition model and its data, built by gpu-runner/trainer/make_tiny_model.py if missing. */
export function ensureTinyModel(dir: string = DEFAULT_TINY_DIR): Tiny {
  const out = {
    model: path.join(dir, "model"),
    train: path.join(dir, "data", "train.jsonl"),
    valid: path.join(dir, "data", "valid.jsonl"),
  };
  if (existsSync(path.join(out.model, "config.json")) && existsSync(out.valid)) return out;
  process.stderr.write(`building the tiny model into ${dir} ...\n`);
  execFileSync(
    findPython(),
    [
      path.join(REPO_ROOT, "gpu-runner", "trainer", "make_tiny_model.py"),
      "--out",
      out.model,
      "--data-out",
      path.join(dir, "data"),
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  return out;
}
