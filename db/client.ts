import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import type * as schema from "./schema/index.ts";

/**
 * The database port: drizzle's async SQLite API, which both libsql (Node) and D1 (Workers) provide.
 * Atomic groups use `db.batch([...])` (drizzle's `transaction` fails on D1).
 */
// biome-ignore lint/suspicious/noExplicitAny: the driver's result type differs between libsql and D1.
export type Db = BaseSQLiteDatabase<"async", any, typeof schema> & {
  // biome-ignore lint/suspicious/noExplicitAny: batch exists on both drivers with driver-specific typings.
  batch: (queries: any) => Promise<unknown>;
};
