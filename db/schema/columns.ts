import { integer, text } from "drizzle-orm/sqlite-core";

/** Shared column helpers: every row has a prefixed text id and a unix-seconds creation time (OpenAI's unit). */
export const idColumn = () => text("id").primaryKey();
export const projectColumn = () => text("project_id").notNull();
export const createdAtColumn = () =>
  integer("created_at")
    .notNull()
    .$defaultFn(() => Math.floor(Date.now() / 1000));
