import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn } from "./columns.ts";

/** A tenant: every resource belongs to exactly one project. */
export const projects = sqliteTable("projects", {
  id: idColumn(),
  name: text("name").notNull(),
  createdAt: createdAtColumn(),
});
