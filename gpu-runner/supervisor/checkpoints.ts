import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { EngineClient } from "./engine-client.ts";

type Saver = Pick<EngineClient, "save" | "exportOnnx">;

import { writeFileAtomic } from "./runner-io.ts";

/**
 * Checkpoints live in `<output>/checkpoints/step-N/`. A folder of that name is complete by construction:
 * the engine saves into `step-N.partial/`, the supervisor adds `supervisor_state.json`, and only then is the
 * folder renamed. Anything else in `checkpoints/` (a `.partial` left by a crash) is ignored and replaced.
 */

export const SupervisorState = z.object({
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  total_steps: z.number().int().positive(),
  method: z.enum(["reinforcement", "supervised"]),
  /** What fixes the data order: a resumed run must see the same. */
  data: z.object({
    sha256: z.string(),
    n_items: z.number().int(),
    batch_size: z.number().int(),
    seed: z.number().int(),
    n_epochs: z.number().int(),
  }),
  consecutive_nan_steps: z.number().int().nonnegative(),
  saved_at: z.number(),
});
export type SupervisorState = z.infer<typeof SupervisorState>;

export const STATE_FILE = "supervisor_state.json";

export function checkpointsDir(outputDir: string): string {
  return path.join(outputDir, "checkpoints");
}

export function checkpointPath(outputDir: string, step: number): string {
  return path.join(checkpointsDir(outputDir), `step-${step}`);
}

/** The newest complete checkpoint in an output folder, or undefined. */
export async function findLatestCheckpoint(
  outputDir: string,
): Promise<{ path: string; state: SupervisorState } | undefined> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir(outputDir));
  } catch {
    return undefined;
  }
  const steps = names
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const step of steps) {
    const dir = checkpointPath(outputDir, step);
    try {
      const state = SupervisorState.parse(JSON.parse(await readFile(path.join(dir, STATE_FILE), "utf8")));
      return { path: dir, state };
    } catch {
      // Not a checkpoint this supervisor finished (copied in by hand, damaged): try an older one.
    }
  }
  return undefined;
}

/**
 * Saves a checkpoint atomically; returns its folder and files (sizes included). With `onnx`, the folder also gets
 * `onnx/`: the merged model exported with a KV cache (decodes in onnxruntime-node like PyTorch).
 */
export async function saveCheckpoint(
  engine: Saver,
  outputDir: string,
  state: SupervisorState,
  options: { merged: boolean; onnx?: boolean },
): Promise<{ path: string; files: { name: string; bytes: number }[] }> {
  const final = checkpointPath(outputDir, state.step);
  const partial = `${final}.partial`;
  await mkdir(checkpointsDir(outputDir), { recursive: true });
  await rm(partial, { recursive: true, force: true });
  const saved = await engine.save({ path: partial, merged: options.merged, include_optimizer: true });
  const exported = options.onnx ? await engine.exportOnnx({ path: path.join(partial, "onnx"), opset: 18 }) : null;
  const onnxFiles = (exported?.files ?? []).map((f) => ({ ...f, name: `onnx/${f.name}` }));
  await writeFileAtomic(path.join(partial, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  // Only reached again for the same step when a run resumed from its very last checkpoint.
  await rm(final, { recursive: true, force: true });
  await rename(partial, final);
  const stateBytes = (await stat(path.join(final, STATE_FILE))).size;
  return { path: final, files: [...saved.files, ...onnxFiles, { name: STATE_FILE, bytes: stateBytes }] };
}

/** Deletes all but the newest `keep` complete checkpoints (older first); returns the steps removed. */
export async function pruneCheckpoints(outputDir: string, keep: number): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir(outputDir));
  } catch {
    return [];
  }
  const steps = names
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  const removed = steps.slice(keep);
  for (const step of removed) await rm(checkpointPath(outputDir, step), { recursive: true, force: true });
  return removed;
}
