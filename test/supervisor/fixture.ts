import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { findPython, REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";

const run = promisify(execFile);

export type TinyFixture = { model: string; train: string; valid: string };

/**
 * A tiny real model (make_tiny_model.py --quick) and its addition data, built once per version of the
 * builder into the temp folder and shared by every test file (a lock folder keeps parallel workers from
 * building it twice).
 */
export async function tinyFixture(): Promise<TinyFixture> {
  const builder = path.join(REPO_ROOT, "gpu-runner", "trainer", "make_tiny_model.py");
  const hash = createHash("sha256").update(readFileSync(builder)).digest("hex").slice(0, 12);
  const root = path.join(tmpdir(), `rft-supervisor-fixture-${hash}`);
  const out: TinyFixture = {
    model: path.join(root, "model"),
    train: path.join(root, "data", "train.jsonl"),
    valid: path.join(root, "data", "valid.jsonl"),
  };
  const lock = `${root}.lock`;
  for (;;) {
    if (existsSync(root)) return out;
    try {
      await mkdir(lock);
      break;
    } catch {
      await sleep(500); // someone else is building it
    }
  }
  try {
    if (existsSync(root)) return out;
    const partial = `${root}.partial`;
    await rm(partial, { recursive: true, force: true });
    await run(
      findPython(),
      [builder, "--quick", "--out", path.join(partial, "model"), "--data-out", path.join(partial, "data")],
      { cwd: REPO_ROOT, maxBuffer: 64 << 20 },
    );
    await rename(partial, root);
    return out;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
