/** Node-only: registers a Hugging Face model folder on disk as a shared base model, copying it to the store. */
import { createReadStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { models } from "../../db/schema/index.ts";
import type { ObjectStore } from "../../storage/port.ts";

const MODEL_FILES = /\.(json|safetensors|txt|model|jinja)$/;

/**
 * Uploads the folder's model files (config, safetensors, tokenizer) under `models/base/<name>/` and records the
 * model. Idempotent: an already registered name is left alone unless `replace` is set.
 */
/**
 * Records a base model named on the Hugging Face Hub (`org/name`): nothing is copied; runners download it, or find
 * it in their HF cache, themselves. Idempotent.
 */
export async function registerHubModel(deps: { db: Db }, hubId: string): Promise<{ registered: boolean }> {
  const inserted = await deps.db
    .insert(models)
    .values({ id: hubId, projectId: null, kind: "base", ownedBy: "huggingface", hubId })
    .onConflictDoNothing()
    .returning({ id: models.id });
  return { registered: inserted.length > 0 };
}

export async function registerBaseModel(
  deps: { db: Db; store: ObjectStore },
  name: string,
  dir: string,
  options: { replace?: boolean; ownedBy?: string } = {},
): Promise<{ registered: boolean; files: number }> {
  const existing = await deps.db.select().from(models).where(eq(models.id, name)).limit(1);
  if (existing[0] && !options.replace) return { registered: false, files: 0 };
  const names = readdirSync(dir).filter((f) => MODEL_FILES.test(f) && statSync(join(dir, f)).isFile());
  if (!names.includes("config.json")) throw new Error(`${dir} is not a Hugging Face model folder: no config.json`);
  const prefix = `models/base/${name}`;
  for (const file of names) {
    const body = Readable.toWeb(createReadStream(join(dir, file))) as ReadableStream<Uint8Array>;
    await deps.store.put(`${prefix}/${file}`, body, { contentLength: statSync(join(dir, file)).size });
  }
  const row = {
    id: name,
    projectId: null,
    kind: "base" as const,
    ownedBy: options.ownedBy ?? "system",
    objectPrefix: prefix,
    localPath: dir,
  };
  if (existing[0]) await deps.db.update(models).set(row).where(eq(models.id, name));
  else await deps.db.insert(models).values(row);
  return { registered: true, files: names.length };
}
