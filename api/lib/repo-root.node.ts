/** Node-only: where the repository is, for the files the server reads beside its code. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * The repository root: the nearest folder above this module whose package.json is this project's. The same answer
 * from the sources (tsx) and from the bundled server (`dist/node/server.mjs`), which is why paths to migrations, the
 * tiny model or the python harness start here rather than at `import.meta.url`.
 */
export function repoRoot(): string {
  if (cached) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "rft-platform") {
      cached = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error("repoRoot: no rft-platform package.json above this module");
  }
}
