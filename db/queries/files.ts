import { and, asc, desc, eq, gt, isNull, lt, lte, or, type SQL } from "drizzle-orm";
import { deleteComposite } from "../../storage/composite.ts";
import type { Db } from "../client.ts";
import { files } from "../schema/files.ts";

export type FileRow = typeof files.$inferSelect;
export type NewFileRow = typeof files.$inferInsert;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Live = not deleted and not past `expires_at`: a file that expired is gone for the API even before it is swept. */
const live = (now: number): SQL =>
  and(isNull(files.deletedAt), or(isNull(files.expiresAt), gt(files.expiresAt, now))) as SQL;

/** Inserts a file whose object is already completely stored. */
export async function insertFile(db: Db, row: NewFileRow): Promise<FileRow> {
  const [inserted] = await db.insert(files).values(row).returning();
  if (!inserted) throw new Error(`insertFile: no row returned for ${row.id}`);
  return inserted;
}

/** The statement that inserts a file, for an atomic `db.batch`. */
export const insertFileStatement = (db: Db, row: NewFileRow) => db.insert(files).values(row);

/** A live file of the project, or null (another project's file is simply not found). */
export async function findFile(db: Db, projectId: string, fileId: string, now = nowSeconds()): Promise<FileRow | null> {
  const rows = await db
    .select()
    .from(files)
    .where(and(eq(files.projectId, projectId), eq(files.id, fileId), live(now)))
    .limit(1);
  return rows[0] ?? null;
}

export interface ListFilesOptions {
  purpose?: string | undefined;
  after?: string | undefined;
  limit: number;
  order: "asc" | "desc";
}

/**
 * One cursor page of the project's live files, `limit + 1` rows (the extra one tells `toPage` there is more).
 * Ids sort by creation time, so `after` is a plain id comparison in the page's direction.
 */
export async function listFiles(db: Db, projectId: string, options: ListFilesOptions, now = nowSeconds()) {
  const conditions: SQL[] = [eq(files.projectId, projectId), live(now)];
  if (options.purpose) conditions.push(eq(files.purpose, options.purpose));
  if (options.after)
    conditions.push(options.order === "asc" ? gt(files.id, options.after) : lt(files.id, options.after));
  return db
    .select()
    .from(files)
    .where(and(...conditions))
    .orderBy(options.order === "asc" ? asc(files.id) : desc(files.id))
    .limit(options.limit + 1);
}

/** Marks a live file deleted; returns its row if this call deleted it, null if there was none. */
export async function markFileDeleted(db: Db, projectId: string, fileId: string, now = nowSeconds()) {
  const rows = await db
    .update(files)
    .set({ deletedAt: now })
    .where(and(eq(files.projectId, projectId), eq(files.id, fileId), live(now)))
    .returning();
  return rows[0] ?? null;
}

/** Records the outcome of background validation; only a file still `uploaded` changes. */
export async function setFileValidated(
  db: Db,
  fileId: string,
  outcome: {
    status: "processed" | "error";
    statusDetails: string | null;
    stats: Record<string, unknown> | null;
    sha256?: string;
  },
): Promise<void> {
  await db
    .update(files)
    .set(outcome)
    .where(and(eq(files.id, fileId), eq(files.status, "uploaded")));
}

/** Records the sha256 of a file whose bytes were hashed after it was created (an upload's file). */
export async function setFileSha256(db: Db, fileId: string, sha256: string): Promise<void> {
  await db.update(files).set({ sha256 }).where(eq(files.id, fileId));
}

/** Files past `expires_at` and not yet deleted, oldest first: for a sweeper that deletes their objects. */
export async function listExpiredFiles(db: Db, now = nowSeconds(), limit = 100): Promise<FileRow[]> {
  return db
    .select()
    .from(files)
    .where(and(isNull(files.deletedAt), lte(files.expiresAt, now)))
    .orderBy(asc(files.expiresAt))
    .limit(limit);
}

/**
 * Deletes the objects of expired files and marks them deleted. Returns how many. The lead's periodic sweep can
 * call it next to `expireUploads`.
 */
export async function expireFiles(
  deps: { db: Db; store: { delete: (key: string) => Promise<void> } },
  now: Date = new Date(),
): Promise<number> {
  const seconds = Math.floor(now.getTime() / 1000);
  const rows = await listExpiredFiles(deps.db, seconds);
  for (const row of rows) {
    await deleteComposite(deps.store, row);
    await deps.db.update(files).set({ deletedAt: seconds }).where(eq(files.id, row.id));
  }
  return rows.length;
}
