import { z } from "@hono/zod-openapi";
import type { files } from "../../db/schema/files.ts";
import { PageQuery, pageSchema } from "../lib/pagination.ts";

/** Purposes a file may be uploaded with (the `openai` SDK's `FilePurpose`). */
export const FILE_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const;
export const FilePurpose = z.enum(FILE_PURPOSES).openapi("FilePurpose");
export type FilePurpose = z.infer<typeof FilePurpose>;

export const FILE_STATUSES = ["uploaded", "processed", "error"] as const;

export const FileObject = z
  .object({
    id: z.string().openapi({ example: "file-0m3k2x9a8bQ4nR7tY1uW2eZ" }),
    object: z.literal("file"),
    bytes: z.number().int(),
    created_at: z.number().int().openapi({ description: "Unix seconds" }),
    expires_at: z.number().int().nullable(),
    filename: z.string(),
    /** Uploaded files carry one of FILE_PURPOSES; files the platform writes use `fine-tune-results`. */
    purpose: z.string(),
    status: z.enum(FILE_STATUSES).openapi({
      description: "`uploaded` while a dataset is validated in the background, then `processed` or `error`",
    }),
    status_details: z.string().nullable().openapi({ description: "Why validation failed, naming the first bad lines" }),
  })
  .openapi("FileObject");
export type FileObject = z.infer<typeof FileObject>;

export const FileDeleted = z
  .object({ id: z.string(), object: z.literal("file"), deleted: z.boolean() })
  .openapi("FileDeleted");
export type FileDeleted = z.infer<typeof FileDeleted>;

export const FileList = pageSchema(FileObject, "FileList");

export const FileListQuery = PageQuery.extend({
  purpose: z.string().optional().openapi({ description: "Only files of this purpose" }),
  order: z.enum(["asc", "desc"]).optional().openapi({ description: "By creation time; default `desc`" }),
});
export type FileListQuery = z.infer<typeof FileListQuery>;

export const FileIdParams = z.object({
  file_id: z
    .string()
    .min(1)
    .openapi({ param: { name: "file_id", in: "path" }, example: "file-abc123" }),
});

/** `expires_after` as the SDK sends it in multipart (`expires_after[anchor]`, `expires_after[seconds]`) or JSON. */
export const ExpiresAfter = z
  .object({
    anchor: z.literal("created_at"),
    seconds: z.coerce.number().int().min(3600).max(2_592_000),
  })
  .openapi("FileExpiresAfter");
export type ExpiresAfter = z.infer<typeof ExpiresAfter>;

/**
 * The multipart body of `POST /files`, for the OpenAPI document only: the route streams the body itself
 * (a zod schema here would make the router buffer it with `parseBody()`).
 */
export const CreateFileMultipart = {
  type: "object" as const,
  required: ["file", "purpose"],
  properties: {
    file: {
      type: "string" as const,
      format: "binary",
      description: "The file; `fine-tune` files must be JSONL datasets",
    },
    purpose: { type: "string" as const, enum: [...FILE_PURPOSES] },
    "expires_after[anchor]": { type: "string" as const, enum: ["created_at"] },
    "expires_after[seconds]": { type: "integer" as const, minimum: 3600, maximum: 2_592_000 },
  },
};

type FileRow = typeof files.$inferSelect;

/** The one serializer of a file row. */
export function toFileObject(row: FileRow): FileObject {
  return {
    id: row.id,
    object: "file",
    bytes: row.bytes,
    created_at: row.createdAt,
    expires_at: row.expiresAt ?? null,
    filename: row.filename,
    purpose: row.purpose,
    status: row.status,
    status_details: row.statusDetails ?? null,
  };
}
