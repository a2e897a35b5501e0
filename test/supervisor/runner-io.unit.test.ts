import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FolderRunnerIO } from "../../gpu-runner/supervisor/runner-io.ts";

const lines = async (file: string) =>
  (await readFile(file, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("folder runner IO", () => {
  it("appends events and metrics, writes status atomically, and reads control.json on heartbeat", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sv-io-"));
    const io = new FolderRunnerIO(dir);
    await io.begin({ totalSteps: 5, resumedFromStep: 0 });
    await io.emit([{ level: "info", message: "hello" }]);
    await io.metrics({ step: 1, total_steps: 5, epoch: 0, learning_rate: 1e-3, step_time_s: 1, batch_lines: [3, 1] });
    expect(await io.heartbeat({ step: 1, totalSteps: 5, status: "running" })).toBe("continue");
    expect(JSON.parse(await readFile(io.statusFile, "utf8"))).toMatchObject({
      status: "running",
      step: 1,
      total_steps: 5,
    });

    await writeFile(io.controlFile, JSON.stringify({ action: "pause" }));
    expect(await io.heartbeat({ step: 1, totalSteps: 5, status: "paused" })).toBe("pause");
    expect(JSON.parse(await readFile(io.statusFile, "utf8")).status).toBe("paused");
    await writeFile(io.controlFile, JSON.stringify({ action: "cancel" }));
    expect(await io.heartbeat({ step: 1, totalSteps: 5, status: "running" })).toBe("cancel");
    await writeFile(io.controlFile, "garbage");
    expect(await io.heartbeat({ step: 1, totalSteps: 5, status: "running" })).toBe("continue");

    await io.finish("failed", "boom");
    expect(JSON.parse(await readFile(io.statusFile, "utf8"))).toMatchObject({ status: "failed", error: "boom" });
    const events = await lines(io.eventsFile);
    expect(events[0]).toMatchObject({ level: "info", message: "hello", type: "message" });
    expect(events.at(-1).message).toMatch(/ignoring/);
    expect((await lines(io.metricsFile))[0].batch_lines).toEqual([3, 1]);
  });

  it("writes status one write at a time: heartbeats racing the final status neither fail nor overwrite it", async () => {
    // Before, every write of status.json used one temp name per process: two at once renamed each other's file away
    // (ENOENT failed a job in CI), and a heartbeat already past its check could land after the final status.
    const dir = await mkdtemp(path.join(tmpdir(), "sv-io-"));
    const io = new FolderRunnerIO(dir);
    await io.begin({ totalSteps: 4, resumedFromStep: 0 });
    const beats = Array.from({ length: 50 }, (_, i) => io.heartbeat({ step: i % 4, totalSteps: 4, status: "running" }));
    const finished = io.finish("succeeded");
    const late = Array.from({ length: 10 }, () => io.heartbeat({ step: 4, totalSteps: 4, status: "running" }));
    await Promise.all([...beats, finished, ...late]);
    expect(JSON.parse(await readFile(path.join(dir, "status.json"), "utf8"))).toMatchObject({ status: "succeeded" });
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("on resume drops metrics of steps after the checkpoint, so every step appears once", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sv-io-"));
    const io = new FolderRunnerIO(dir);
    await io.begin({ totalSteps: 5, resumedFromStep: 0 });
    for (const step of [0, 1, 2, 3]) {
      await io.metrics({ step, total_steps: 5, epoch: 0, learning_rate: 1, step_time_s: 0, batch_lines: [] });
    }
    await new FolderRunnerIO(dir).begin({ totalSteps: 5, resumedFromStep: 2 });
    expect((await lines(io.metricsFile)).map((m) => m.step)).toEqual([0, 1, 2]);
    await new FolderRunnerIO(dir).begin({ totalSteps: 5, resumedFromStep: 0 });
    expect(await readFile(io.metricsFile, "utf8")).toBe("");
  });
});
