/**
 * The runner's Dockerfile, checked without a Docker engine (none runs here): its stages and paths agree with the
 * repository, and its supervisor build step (the esbuild bundle of remote-main.ts) is run for real from the
 * Dockerfile's own command; the bundle then starts, prints its usage, and talks to a real API (a bad token ends
 * with exit code 2 and the API's words).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunnerServer, startRunnerServer } from "./harness.ts";

const dockerfile = readFileSync(join(process.cwd(), "gpu-runner/Dockerfile"), "utf8");
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

let out: string;
let server: RunnerServer;
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "rft-docker-out-"));
  server = await startRunnerServer();
});
afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  await server?.stop();
});

describe("gpu-runner/Dockerfile", () => {
  it("has the three stages and ends on the bundled remote-main under tini, as a non-root user", () => {
    const froms = instructions.filter((l) => l.startsWith("FROM "));
    expect(froms).toEqual([
      "FROM node:${NODE_VERSION}-bookworm-slim AS supervisor",
      "FROM node:${NODE_VERSION}-bookworm-slim AS node",
      "FROM ${CUDA_IMAGE}",
    ]);
    const entry = instructions.find((l) => l.startsWith("ENTRYPOINT "))!;
    expect(JSON.parse(entry.slice("ENTRYPOINT ".length))).toEqual([
      "/usr/bin/tini",
      "--",
      "node",
      "/app/gpu-runner/supervisor/remote-main.mjs",
    ]);
    expect(instructions).toContain("USER 10001");
    expect(dockerfile).toMatch(/ARG NODE_VERSION=20\./);
    expect(Number(/ARG NODE_VERSION=(\d+)/.exec(dockerfile)![1])).toBe(Number(process.versions.node.split(".")[0]));
  });

  it("copies only paths that exist in the repository", () => {
    const copies = instructions.filter((l) => l.startsWith("COPY ") && !l.includes("--from="));
    expect(copies.length).toBeGreaterThan(3);
    for (const copy of copies) {
      const parts = copy.split(/\s+/).slice(1);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(process.cwd(), src)), src).toBe(true);
    }
  });

  it("its supervisor build step bundles remote-main.ts; the bundle runs and speaks the protocol", async () => {
    const step = instructions.find((l) => l.startsWith("RUN node_modules/.bin/esbuild"))!;
    const args = [...step.slice("RUN node_modules/.bin/esbuild ".length).matchAll(/--banner:js="([^"]*)"|(\S+)/g)].map(
      (m) => (m[1] !== undefined ? `--banner:js=${m[1]}` : m[2]!.replace("/out/", `${out}/`)),
    );
    execFileSync(join(process.cwd(), "node_modules/.bin/esbuild"), args, { stdio: "pipe" });
    const bundle = join(out, "gpu-runner/supervisor/remote-main.mjs");
    expect(existsSync(bundle)).toBe(true);
    const help = spawnSync(process.execPath, [bundle, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stderr).toContain("usage: remote-main.ts --api URL --token TOKEN");
    // Asynchronously: the API answering it lives in this process.
    const denied = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const env = {
        ...process.env,
        RFT_API_URL: server.origin,
        RFT_RUN_TOKEN: "rft-run-nope",
        RFT_WORK_DIR: join(out, "work"),
      };
      const child = execFile(process.execPath, [bundle], { env, timeout: 30_000 }, (_err, _stdout, stderr) =>
        resolve({ status: child.exitCode, stderr }),
      );
    });
    expect(denied.status, denied.stderr).toBe(2);
    expect(denied.stderr).toContain("could not fetch the run spec: GET /spec: HTTP 401: Invalid run token.");
  });

  it("installs the engine's pinned requirements, torch from the CUDA index", () => {
    expect(dockerfile).toContain("pip install -r gpu-runner/trainer/requirements.txt");
    expect(dockerfile).toContain('--index-url "${TORCH_INDEX_URL}"');
    expect(readFileSync(join(process.cwd(), "gpu-runner/trainer/requirements.txt"), "utf8")).toMatch(/^torch==\d/m);
  });
});
