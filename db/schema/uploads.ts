import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn, projectColumn } from "./columns.ts";

/** Uploads API (`upload_…`): a large file sent in parts, assembled on complete. */
export const uploads = sqliteTable(
  "uploads",
  {
    id: idColumn(),
    projectId: projectColumn(),
    filename: text("filename").notNull(),
    purpose: text("purpose").notNull(),
    bytes: integer("bytes").notNull(),
    mimeType: text("mime_type").notNull(),
    status: text("status", { enum: ["pending", "completed", "cancelled", "expired"] }).notNull(),
    /** Set when completion starts (it claims the upload), so a second complete or a cancel cannot race it. */
    fileId: text("file_id"),
    /** `expires_after.seconds` asked for at create, applied to the file made on complete. */
    fileExpiresAfter: integer("file_expires_after"),
    createdAt: createdAtColumn(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("uploads_project").on(t.projectId, t.id), index("uploads_status_expiry").on(t.status, t.expiresAt)],
);

/** One part (`part_…`); its bytes are an object of their own until the upload completes. */
export const uploadParts = sqliteTable(
  "upload_parts",
  {
    id: idColumn(),
    uploadId: text("upload_id").notNull(),
    objectKey: text("object_key").notNull(),
    bytes: integer("bytes").notNull(),
    createdAt: createdAtColumn(),
  },
  (t) => [index("upload_parts_upload").on(t.uploadId)],
);
