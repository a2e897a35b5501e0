import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn } from "./columns.ts";

/**
 * Models a project can fine-tune or use. Base models (`projectId` null) are registered by the operator: a
 * Hugging Face folder in the object store under `objectPrefix`, or a local folder path (`localPath`, the
 * embedded default). Fine-tuned models point at the checkpoint they came from.
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
    checkpointId: text("checkpoint_id"),
    jobId: text("job_id"),
    createdAt: createdAtColumn(),
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("models_project").on(t.projectId)],
);
