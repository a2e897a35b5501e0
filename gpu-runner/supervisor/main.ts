/**
 * The GPU runner's supervisor, folder mode:
 *
 *   npx tsx gpu-runner/supervisor/main.ts --spec spec.json
 *
 * Reads the run spec (see spec.ts), writes events.jsonl, metrics.jsonl, checkpoints.jsonl and status.json
 * into the spec's output_dir, and reads output_dir/control.json ({"action": "pause"|"continue"|"cancel"})
 * between steps. Started again with the same spec after a crash, it continues from the newest checkpoint.
 * Exit code: 0 succeeded or cancelled, 1 failed, 2 bad usage or spec.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { createNodeGraderContext } from "../../graders/node.ts";
import { runJob } from "./loop.ts";
import { FolderRunnerIO } from "./runner-io.ts";
import { parseSpec, type RunSpec } from "./spec.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      spec: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || !values.spec) {
    process.stderr.write("usage: tsx gpu-runner/supervisor/main.ts --spec spec.json [--quiet]\n");
    return values.help ? 0 : 2;
  }
  let spec: RunSpec;
  try {
    const specPath = path.resolve(values.spec);
    const raw = JSON.parse(await readFile(specPath, "utf8")) as Record<string, unknown>;
    spec = resolvePaths(parseSpec(raw), path.dirname(specPath));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }

  mkdirSync(spec.output_dir, { recursive: true });
  const engineLog = path.join(spec.output_dir, "engine.log");
  const echo = values.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const io = new FolderRunnerIO(spec.output_dir, echo);
  // Model graders use the OpenAI-compatible endpoint the operator configures; python graders the sandbox.
  const graderContext = await createNodeGraderContext({
    RFT_GRADER_BASE_URL: process.env.RFT_GRADER_BASE_URL,
    RFT_GRADER_API_KEY: process.env.RFT_GRADER_API_KEY,
    RFT_EMBEDDING_MODEL: process.env.RFT_EMBEDDING_MODEL,
  });
  const result = await runJob(spec, {
    io,
    graderContext,
    engine: { onStderr: (line) => appendFileSync(engineLog, `${line}\n`) },
  });
  await graderContext.close?.();
  process.stderr.write(
    `${result.status} at step ${result.step}/${result.totalSteps}${result.error ? `: ${result.error}` : ""}\n`,
  );
  return result.status === "failed" ? 1 : 0;
}

/** Relative paths in a spec file are relative to the spec file's folder. */
function resolvePaths(spec: RunSpec, base: string): RunSpec {
  const abs = (p: string) => path.resolve(base, p);
  return {
    ...spec,
    model: abs(spec.model),
    training_file: abs(spec.training_file),
    validation_file: spec.validation_file === null ? null : abs(spec.validation_file),
    output_dir: abs(spec.output_dir),
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
