import { and, eq, exists, isNull, or } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { checkpointPermissions, checkpoints, models } from "../../db/schema/index.ts";
import type { ObjectStore } from "../../storage/port.ts";

export type ModelRow = typeof models.$inferSelect;

/** `Model` as the `openai` SDK reads it. */
export const toModelObject = (row: ModelRow) => ({
  id: row.id,
  object: "model" as const,
  created: row.createdAt,
  owned_by: row.ownedBy,
});

/** Base models (shared, `projectId` null) and the project's own fine-tuned models, not deleted. */
export async function listModels(db: Db, projectId: string): Promise<ModelRow[]> {
  return db
    .select()
    .from(models)
    .where(and(or(isNull(models.projectId), eq(models.projectId, projectId)), isNull(models.deletedAt)))
    .orderBy(models.createdAt, models.id);
}

/** `ft:…:ckpt-step-N`: the model name of a job's checkpoint (`fine_tuned_model_checkpoint`). */
export const isCheckpointName = (name: string) => /:ckpt-step-\d+$/.test(name);

/**
 * A model the project can use by that name: a base model, one of its fine-tuned models, or a checkpoint, its own
 * or one shared with it (checkpoint permissions). A checkpoint comes back as a fine-tuned model row of its owner.
 */
export async function findModel(db: Db, projectId: string, name: string): Promise<ModelRow | null> {
  const rows = await db
    .select()
    .from(models)
    .where(
      and(eq(models.id, name), or(isNull(models.projectId), eq(models.projectId, projectId)), isNull(models.deletedAt)),
    )
    .limit(1);
  if (rows[0] || !isCheckpointName(name)) return rows[0] ?? null;
  const shared = db
    .select({ id: checkpointPermissions.id })
    .from(checkpointPermissions)
    .where(
      and(
        eq(checkpointPermissions.checkpointId, checkpoints.id),
        eq(checkpointPermissions.granteeProjectId, projectId),
      ),
    );
  const [ckpt] = await db
    .select()
    .from(checkpoints)
    .where(and(eq(checkpoints.modelName, name), or(eq(checkpoints.projectId, projectId), exists(shared))))
    .limit(1);
  if (!ckpt) return null;
  const merged = ckpt.files.some((f) => f.name.startsWith("merged/"));
  return {
    id: name,
    projectId: ckpt.projectId,
    kind: "fine_tuned",
    ownedBy: ckpt.projectId,
    objectPrefix: merged ? `${ckpt.objectPrefix}/merged` : ckpt.objectPrefix,
    localPath: null,
    hubId: null,
    checkpointId: ckpt.id,
    jobId: ckpt.jobId,
    createdAt: ckpt.createdAt,
    deletedAt: null,
  };
}

export interface ResolvedModel {
  id: string;
  /** The base model a fine-tuned model descends from (itself for a base model): used in fine-tuned names. */
  base: string;
  /** Every file of the Hugging Face folder, as object-store keys (none for a Hub model). */
  files: { name: string; key: string; bytes: number }[];
  /** A Hugging Face Hub repo id the runner fetches itself, instead of `files`. */
  hub: string | null;
}

/** The files a runner must fetch to load `name`, or null when the project cannot see such a model. */
export async function resolveModel(
  deps: { db: Db; store: ObjectStore },
  projectId: string,
  name: string,
): Promise<ResolvedModel | null> {
  const row = await findModel(deps.db, projectId, name);
  if (row?.hubId) return { id: row.id, base: baseOf(row.id), files: [], hub: row.hubId };
  if (!row?.objectPrefix) return null;
  const prefix = row.objectPrefix.endsWith("/") ? row.objectPrefix : `${row.objectPrefix}/`;
  const files: ResolvedModel["files"] = [];
  for await (const obj of deps.store.list(prefix)) {
    files.push({ name: obj.key.slice(prefix.length), key: obj.key, bytes: obj.bytes });
  }
  if (!files.length) return null;
  return { id: row.id, base: baseOf(row.id), files, hub: null };
}

/** `ft:tiny-arith:proj:suffix:abc` → `tiny-arith`; a base model's name is its own base. */
export const baseOf = (name: string) => (name.startsWith("ft:") ? (name.split(":")[1] ?? name) : name);
