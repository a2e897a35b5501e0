/** Node-only wiring: builds the ports bundle from the parsed environment. The one place adapters are chosen. */
import { join, resolve } from "node:path";
import { openNodeDb } from "../db/node.ts";
import { createNodeGraderContext } from "../graders/node.ts";
import { createObjectStore } from "../storage/index.ts";
import { createTableQueue, type TableQueue } from "../workers/queue-table.ts";
import { type Env, limitsFrom } from "./config.ts";
import type { AppDeps } from "./deps.ts";

export interface NodeRuntime {
  deps: AppDeps & { queue: TableQueue };
  dataDir: string;
  /** Waits for background work (dataset validation) to settle, then closes the database. */
  close: () => Promise<void>;
}

export async function buildNodeDeps(env: Env): Promise<NodeRuntime> {
  const dataDir = resolve(env.RFT_DATA_DIR);
  const { db, close: closeDb } = await openNodeDb(join(dataDir, "rft.db"));
  const store = await createObjectStore(
    env.S3_BUCKET
      ? {
          kind: "s3",
          bucket: env.S3_BUCKET,
          region: env.S3_REGION,
          ...(env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
            ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
            : {}),
          forcePathStyle: env.S3_FORCE_PATH_STYLE ?? Boolean(env.S3_ENDPOINT),
          partSizeBytes: env.S3_PART_SIZE_MB * 1024 * 1024,
          queueSize: env.S3_QUEUE_SIZE,
          ...(env.S3_ENDPOINT ? { endpoint: env.S3_ENDPOINT } : {}),
        }
      : { kind: "local", dir: join(dataDir, "objects") },
  );
  const pending = new Set<Promise<unknown>>();
  const graders = await createNodeGraderContext(env);
  const deps: NodeRuntime["deps"] = {
    queue: createTableQueue(db),
    db,
    store,
    limits: limitsFrom(env),
    graders,
    background: (task) => {
      const tracked = task
        .catch((err) => console.error("background task failed:", err))
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
  };
  return {
    deps,
    dataDir,
    close: async () => {
      await Promise.allSettled([...pending]);
      await graders.close?.();
      closeDb();
    },
  };
}
