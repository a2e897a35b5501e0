import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn, projectColumn } from "./columns.ts";

/**
 * Files (`file-…`). `status` is OpenAI's: `uploaded` while a dataset is being validated in the background,
 * `processed` when usable, `error` with `statusDetails` naming the bad lines. A row is inserted only after its
 * object is completely stored, so no half-written file is ever visible.
 */
export const files = sqliteTable(
  "files",
  {
    id: idColumn(),
    projectId: projectColumn(),
    filename: text("filename").notNull(),
    purpose: text("purpose").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256"),
    objectKey: text("object_key").notNull(),
    /**
     * Set when the file's bytes are several objects, in order: an upload's parts, kept as they came so that
     * completing an upload copies nothing. `objectKey` then names no object. Read through `storage/composite.ts`.
     */
    parts: text("parts", { mode: "json" }).$type<{ key: string; bytes: number }[]>(),
    status: text("status", { enum: ["uploaded", "processed", "error"] }).notNull(),
    statusDetails: text("status_details"),
    /** Dataset facts found by validation (line count, format), JSON. */
    stats: text("stats", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: createdAtColumn(),
    expiresAt: integer("expires_at"),
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("files_project").on(t.projectId, t.id)],
);
