import { z } from "@hono/zod-openapi";
import type { uploadParts, uploads } from "../../db/schema/uploads.ts";
import { ExpiresAfter, FileObject, FilePurpose } from "./files.ts";

export const UPLOAD_STATUSES = ["pending", "completed", "cancelled", "expired"] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

export const CreateUploadBody = z
  .object({
    bytes: z.number().int().positive().openapi({ description: "Total size; the parts must add up to exactly this" }),
    filename: z.string().min(1).max(512),
    mime_type: z.string().min(1).max(255),
    purpose: FilePurpose,
    expires_after: ExpiresAfter.optional().openapi({ description: "Expiry of the file the upload makes" }),
  })
  .strict()
  .openapi("CreateUploadRequest");
export type CreateUploadBody = z.infer<typeof CreateUploadBody>;

export const CompleteUploadBody = z
  .object({
    part_ids: z.array(z.string().min(1)).min(1).openapi({ description: "Every part, in file order" }),
    md5: z
      .string()
      .regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex digits")
      .optional()
      .openapi({ description: "Hex md5 of the whole file, checked before the upload completes" }),
  })
  .strict()
  .openapi("CompleteUploadRequest");
export type CompleteUploadBody = z.infer<typeof CompleteUploadBody>;

export const UploadObject = z
  .object({
    id: z.string().openapi({ example: "upload_0m3k2x9a8bQ4nR7tY1uW2eZ" }),
    object: z.literal("upload"),
    bytes: z.number().int(),
    created_at: z.number().int(),
    expires_at: z.number().int(),
    filename: z.string(),
    purpose: z.string(),
    status: z.enum(UPLOAD_STATUSES),
    file: FileObject.nullable(),
  })
  .openapi("Upload");
export type UploadObject = z.infer<typeof UploadObject>;

export const UploadPartObject = z
  .object({
    id: z.string().openapi({ example: "part_0m3k2x9a8bQ4nR7tY1uW2eZ" }),
    object: z.literal("upload.part"),
    created_at: z.number().int(),
    upload_id: z.string(),
  })
  .openapi("UploadPart");
export type UploadPartObject = z.infer<typeof UploadPartObject>;

export const UploadIdParams = z.object({
  upload_id: z
    .string()
    .min(1)
    .openapi({ param: { name: "upload_id", in: "path" }, example: "upload_abc123" }),
});

/** The multipart body of `POST /uploads/{id}/parts`, for the OpenAPI document only (the route streams it). */
export const AddPartMultipart = {
  type: "object" as const,
  required: ["data"],
  properties: { data: { type: "string" as const, format: "binary", description: "The part's bytes" } },
};

type UploadRow = typeof uploads.$inferSelect;
type PartRow = typeof uploadParts.$inferSelect;

/** Status as the client sees it: a pending upload past its expiry is `expired` before the sweeper marks it. */
export function uploadStatus(row: UploadRow, nowSeconds = Math.floor(Date.now() / 1000)): UploadStatus {
  if (row.status === "pending" && row.expiresAt <= nowSeconds) return "expired";
  return row.status;
}

/** The one serializer of an upload row; `file` only for a completed upload. */
export function toUploadObject(row: UploadRow, file: FileObject | null = null): UploadObject {
  return {
    id: row.id,
    object: "upload",
    bytes: row.bytes,
    created_at: row.createdAt,
    expires_at: row.expiresAt,
    filename: row.filename,
    purpose: row.purpose,
    status: uploadStatus(row),
    file,
  };
}

export function toUploadPartObject(row: PartRow): UploadPartObject {
  return { id: row.id, object: "upload.part", created_at: row.createdAt, upload_id: row.uploadId };
}
