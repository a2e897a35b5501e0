import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn } from "./columns.ts";

/**
 * Models a project can fine-tune or use. Base models (`projectId` null) are registered by the operator: a
 * Hugging Face folder in the object store under `objectPrefix`, or a local folder path (`localPath`, the
 * embedded default), or a Hugging Face Hub repo id (`hubId`) that runners fetch themselves. Fine-tuned models
 * point at the checkpoint they came from.
 */
export const models = sqliteTable(
  "models",
  {
    id: idColumn(),
    projectId: text("project_id"),
    kind: text("kind", { enum: ["base", "fine_tuned"] }).notNull(),
    ownedBy: text("owned_by").notNull(),
    objectPrefix: text("object_prefix"),
    localPath: text("local_path"),
    /** `org/name` on the Hugging Face Hub: runners download it (or find it in their HF cache) themselves. */
    hubId: text("hub_id"),
    checkpointId: text("checkpoint_id"),
    jobId: text("job_id"),
    createdAt: createdAtColumn(),
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("models_project").on(t.projectId)],
);
