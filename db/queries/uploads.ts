import { and, asc, count, eq, gt, inArray, isNull, lte } from "drizzle-orm";
import type { ObjectStore } from "../../storage/port.ts";
import type { Db } from "../client.ts";
import { files } from "../schema/files.ts";
import { uploadParts, uploads } from "../schema/uploads.ts";
import type { NewFileRow } from "./files.ts";

export type UploadRow = typeof uploads.$inferSelect;
export type NewUploadRow = typeof uploads.$inferInsert;
export type PartRow = typeof uploadParts.$inferSelect;

/** Object key of one part. Never derived from anything the client named. */
export const partKey = (projectId: string, uploadId: string, partId: string) =>
  `uploads/${projectId}/${uploadId}/${partId}`;

export async function insertUpload(db: Db, row: NewUploadRow): Promise<UploadRow> {
  const [inserted] = await db.insert(uploads).values(row).returning();
  if (!inserted) throw new Error(`insertUpload: no row returned for ${row.id}`);
  return inserted;
}

export async function findUpload(db: Db, projectId: string, uploadId: string): Promise<UploadRow | null> {
  const rows = await db
    .select()
    .from(uploads)
    .where(and(eq(uploads.projectId, projectId), eq(uploads.id, uploadId)))
    .limit(1);
  return rows[0] ?? null;
}

/** Still open for parts: pending, not claimed by a completion, not past its expiry. */
const open = (uploadId: string, now: number) =>
  and(eq(uploads.id, uploadId), eq(uploads.status, "pending"), isNull(uploads.fileId), gt(uploads.expiresAt, now));

export async function isUploadOpen(db: Db, uploadId: string, now: number): Promise<boolean> {
  const rows = await db.select({ id: uploads.id }).from(uploads).where(open(uploadId, now)).limit(1);
  return rows.length > 0;
}

export async function insertPart(db: Db, row: typeof uploadParts.$inferInsert): Promise<PartRow> {
  const [inserted] = await db.insert(uploadParts).values(row).returning();
  if (!inserted) throw new Error(`insertPart: no row returned for ${row.id}`);
  return inserted;
}

export async function listParts(db: Db, uploadId: string): Promise<PartRow[]> {
  return db.select().from(uploadParts).where(eq(uploadParts.uploadId, uploadId)).orderBy(asc(uploadParts.id));
}

export async function countParts(db: Db, uploadId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(uploadParts).where(eq(uploadParts.uploadId, uploadId));
  return row?.n ?? 0;
}

/** Deletes part rows whose objects now belong to a file (a completed upload's listed parts); objects stay. */
export async function forgetParts(db: Db, partIds: string[]): Promise<void> {
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < partIds.length; i += 100) {
    await db.delete(uploadParts).where(inArray(uploadParts.id, partIds.slice(i, i + 100)));
  }
}

/**
 * Claims an open upload for completion by writing the id of the file it will become. Exactly one concurrent
 * complete wins; cancel, expiry and new parts all see the claim and back off.
 */
export async function claimUpload(db: Db, uploadId: string, fileId: string, now: number): Promise<boolean> {
  const rows = await db.update(uploads).set({ fileId }).where(open(uploadId, now)).returning({ id: uploads.id });
  return rows.length > 0;
}

/** Gives a claim back after a failed completion (md5 mismatch): the upload is pending again. */
export async function releaseUpload(db: Db, uploadId: string, fileId: string): Promise<void> {
  await db
    .update(uploads)
    .set({ fileId: null })
    .where(and(eq(uploads.id, uploadId), eq(uploads.fileId, fileId), eq(uploads.status, "pending")));
}

/** The file row and the upload's `completed` status, atomically. */
export async function finishUpload(db: Db, uploadId: string, file: NewFileRow): Promise<void> {
  await db.batch([
    db.insert(files).values(file),
    db.update(uploads).set({ status: "completed", fileId: file.id }).where(eq(uploads.id, uploadId)),
  ]);
}

/** Cancels an open upload; false if it was not open (completed, cancelled, expired or being completed). */
export async function markUploadCancelled(db: Db, uploadId: string, now: number): Promise<boolean> {
  const rows = await db
    .update(uploads)
    .set({ status: "cancelled" })
    .where(open(uploadId, now))
    .returning({ id: uploads.id });
  return rows.length > 0;
}

/** Deletes parts' objects, then their rows. A failed object delete keeps its row, so a later sweep can retry. */
export async function deleteParts(deps: { db: Db; store: ObjectStore }, parts: PartRow[]): Promise<void> {
  const deleted: string[] = [];
  const CONCURRENCY = 8;
  for (let i = 0; i < parts.length; i += CONCURRENCY) {
    const batch = parts.slice(i, i + CONCURRENCY);
    const results = await Promise.allSettled(batch.map((p) => deps.store.delete(p.objectKey)));
    results.forEach((r, j) => {
      if (r.status === "fulfilled") deleted.push((batch[j] as PartRow).id);
      else console.error(`could not delete upload part object ${batch[j]?.objectKey}:`, r.reason);
    });
  }
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < deleted.length; i += 100) {
    await deps.db.delete(uploadParts).where(inArray(uploadParts.id, deleted.slice(i, i + 100)));
  }
}

/**
 * Marks pending uploads past their expiry `expired` and deletes their parts. The server calls it periodically.
 * Returns the ids it expired.
 */
export async function expireUploads(deps: { db: Db; store: ObjectStore }, now: Date = new Date()): Promise<string[]> {
  const seconds = Math.floor(now.getTime() / 1000);
  const expired = await deps.db
    .update(uploads)
    .set({ status: "expired" })
    .where(and(eq(uploads.status, "pending"), isNull(uploads.fileId), lte(uploads.expiresAt, seconds)))
    .returning({ id: uploads.id });
  for (const { id } of expired) await deleteParts(deps, await listParts(deps.db, id));
  return expired.map((u) => u.id);
}
