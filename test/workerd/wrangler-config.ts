/**
 * Reads `wrangler.toml` into Miniflare worker options, so the test binds exactly what a deployment binds (names,
 * queue, compatibility date and flags, vars). wrangler's own reader (`unstable_getMiniflareWorkerOptions`) costs
 * about 10 s to import; this reads the TOML subset wrangler.toml uses: `[table]`, `[[array.of.tables]]` and
 * `key = "string" | number | boolean | ["strings"]` lines.
 */
import { readFileSync } from "node:fs";

type Value = string | number | boolean | string[];
type Table = Record<string, Value>;

export interface WranglerConfig {
  top: Table;
  vars: Record<string, string>;
  /** `[[name]]` sections, in file order (`queues.producers` etc. keep their dotted name). */
  arrays: Record<string, Table[]>;
}

export function readWranglerToml(path: string): WranglerConfig {
  const config: WranglerConfig = { top: {}, vars: {}, arrays: {} };
  let current: Table = config.top;
  for (const [index, raw] of readFileSync(path, "utf8").split("\n").entries()) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const arrayHeader = /^\[\[([\w.]+)\]\]$/.exec(line);
    const tableHeader = /^\[([\w.]+)\]$/.exec(line);
    if (arrayHeader?.[1]) {
      current = {};
      config.arrays[arrayHeader[1]] = [...(config.arrays[arrayHeader[1]] ?? []), current];
    } else if (tableHeader?.[1]) {
      if (tableHeader[1] !== "vars" && tableHeader[1] !== "triggers") {
        throw new Error(`wrangler.toml:${index + 1}: table [${tableHeader[1]}] is not read by this test`);
      }
      current = tableHeader[1] === "vars" ? (config.vars as Table) : {};
    } else {
      const pair = /^([\w-]+)\s*=\s*(.+)$/.exec(line);
      if (!pair?.[1] || pair[2] === undefined) throw new Error(`wrangler.toml:${index + 1}: cannot read ${raw}`);
      current[pair[1]] = JSON.parse(pair[2]) as Value;
    }
  }
  return config;
}

const str = (table: Table | undefined, key: string): string => {
  const value = table?.[key];
  if (typeof value !== "string") throw new Error(`wrangler.toml: expected a string ${key}`);
  return value;
};

/** The Miniflare options for the bindings, compatibility settings and vars of `wrangler.toml`. */
export function miniflareOptionsFrom(config: WranglerConfig) {
  const { top, arrays } = config;
  const flags = top.compatibility_flags;
  return {
    // How wrangler's bundle loads: ES modules, and .wasm files as compiled modules (wrangler's default rule; the
    // Worker imports fuzzy_match's WebAssembly pipeline so).
    modulesRules: [
      { type: "ESModule" as const, include: ["**/*.js"] },
      { type: "CompiledWasm" as const, include: ["**/*.wasm"] },
    ],
    compatibilityDate: str(top, "compatibility_date"),
    compatibilityFlags: Array.isArray(flags) ? flags : [],
    bindings: config.vars,
    d1Databases: Object.fromEntries(
      (arrays.d1_databases ?? []).map((d) => [str(d, "binding"), str(d, "database_name")]),
    ),
    r2Buckets: Object.fromEntries((arrays.r2_buckets ?? []).map((b) => [str(b, "binding"), str(b, "bucket_name")])),
    queueProducers: Object.fromEntries(
      (arrays["queues.producers"] ?? []).map((p) => [str(p, "binding"), { queueName: str(p, "queue") }]),
    ),
    queueConsumers: Object.fromEntries(
      (arrays["queues.consumers"] ?? []).map((c) => [
        str(c, "queue"),
        {
          ...(typeof c.max_batch_size === "number" ? { maxBatchSize: c.max_batch_size } : {}),
          ...(typeof c.max_retries === "number" ? { maxRetries: c.max_retries } : {}),
        },
      ]),
    ),
  };
}
