import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lockOutputDir } from "../../gpu-runner/supervisor/lock.ts";
import { runJob } from "../../gpu-runner/supervisor/loop.ts";
import { FolderRunnerIO } from "../../gpu-runner/supervisor/runner-io.ts";
import { parseSpec } from "../../gpu-runner/supervisor/spec.ts";
import { tempDir } from "./helpers.ts";

describe("output folder lock", () => {
  it("lets one supervisor in, refuses a second while it lives, and takes over a stale lock", async () => {
    const dir = await tempDir("sv-lock-");
    const unlock = await lockOutputDir(dir);
    await expect(lockOutputDir(dir)).rejects.toThrow(/already running/);
    await unlock();
    expect(existsSync(path.join(dir, "supervisor.lock"))).toBe(false);

    await writeFile(path.join(dir, "supervisor.lock"), `${hostname()} 999999999`); // no such process
    const again = await lockOutputDir(dir);
    await again();
  });

  it("a refused run reports nothing into the folder the other supervisor owns", async () => {
    const dir = await tempDir("sv-lock-");
    const unlock = await lockOutputDir(dir);
    const spec = parseSpec({
      model: "/m",
      training_file: "/nope.jsonl",
      output_dir: dir,
      method: { type: "supervised" },
    });
    const result = await runJob(spec, { io: new FolderRunnerIO(dir) });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/already running/);
    expect(existsSync(path.join(dir, "status.json"))).toBe(false);
    await unlock();
  });
});
