import type { Db } from "../db/client.ts";
import type { GraderContext } from "../graders/index.ts";
import type { ObjectStore } from "../storage/port.ts";
import type { Queue } from "../workers/queue.ts";
import type { Limits } from "./config.ts";

/**
 * The ports bundle `createApp` is built from. The Node entry, the Workers entry and the tests only build this;
 * services are never built inside a handler.
 */
export interface AppDeps {
  db: Db;
  store: ObjectStore;
  limits: Limits;
  graders: GraderContext;
  queue: Queue;
  /**
   * Runs work after the response (background dataset validation). Node: fire and track; Workers: `waitUntil`.
   * Errors are the task's own business: it must record them itself.
   */
  background: (task: Promise<unknown>) => void;
}
