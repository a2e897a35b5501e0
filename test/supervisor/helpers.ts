import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../../gpu-runner/supervisor/python.ts";
import type { RunSpecInput } from "../../gpu-runner/supervisor/spec.ts";
import type { TinyFixture } from "./fixture.ts";

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** The first `count` rows of a JSONL file, written to a new file (optionally transformed). */
export async function subset(
  from: string,
  to: string,
  count: number,
  map: (row: Record<string, unknown>) => unknown = (r) => r,
): Promise<string> {
  const rows = readFileSync(from, "utf8").split("\n").filter(Boolean).slice(0, count);
  await writeFile(to, `${rows.map((l) => JSON.stringify(map(JSON.parse(l)))).join("\n")}\n`);
  return to;
}

/**
 * A small reinforcement spec on the tiny model. The quick model almost never answers right, so the test
 * grader asks only whether the answer contains a "1": rewards then vary within groups and every step learns.
 */
export function rlSpec(fx: TinyFixture, train: string, out: string, hp: Record<string, unknown> = {}): RunSpecInput {
  return {
    model: fx.model,
    training_file: train,
    validation_file: fx.valid,
    grader: { type: "string_check", name: "has-1", input: "{{sample.output_text}}", reference: "1", operation: "like" },
    method: {
      type: "reinforcement",
      hyperparameters: {
        batch_size: 2,
        n: 4,
        max_tokens: 5,
        learning_rate: 1e-3,
        eval_interval: 2,
        eval_samples: 4,
        checkpoint_interval: 2,
        lora: null,
        seed: 3,
        ...hp,
      },
    },
    output_dir: out,
    runtime: { device: "cpu", dtype: "float32", pause_poll_ms: 100 },
  };
}

export function readJsonl(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Polls until `cond` holds, or throws after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 300_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * The supervisor CLI as one child process (folder mode). `node --import tsx` rather than the tsx binary, which
 * runs the script in a grandchild: a SIGKILL must reach the supervisor itself.
 */
export function startCli(specFile: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "gpu-runner/supervisor/main.ts", "--spec", specFile], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output };
}
