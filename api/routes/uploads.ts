import { createRoute, type z } from "@hono/zod-openapi";
import { md5 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { FileRow, NewFileRow } from "../../db/queries/files.ts";
import {
  claimUpload,
  countParts,
  deleteParts,
  findUpload,
  finishUpload,
  forgetParts,
  insertPart,
  insertUpload,
  isUploadOpen,
  listParts,
  markUploadCancelled,
  type PartRow,
  partKey,
  releaseUpload,
  type UploadRow,
} from "../../db/queries/uploads.ts";
import { type ObjectPart, readConcatenated } from "../../storage/composite.ts";
import type { ObjectStore } from "../../storage/port.ts";
import { type IngestResult, ingest } from "../datasets/ingest.ts";
import { ingestError } from "../datasets/ingest-errors.ts";
import { readMultipart } from "../datasets/multipart.ts";
import { settleStoredFile } from "../datasets/validate-file.ts";
import type { AppDeps } from "../deps.ts";
import { type ApiError, badRequest, notFound } from "../errors.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";
import { newRouter } from "../router.ts";
import { toFileObject } from "../schemas/files.ts";
import {
  AddPartMultipart,
  CompleteUploadBody,
  CreateUploadBody,
  toUploadObject,
  toUploadPartObject,
  UploadIdParams,
  UploadObject,
  UploadPartObject,
  uploadStatus,
} from "../schemas/uploads.ts";
import { fileKey } from "./files.ts";

/** An upload accepts parts for an hour (OpenAI's rule). */
const UPLOAD_TTL_SECONDS = 3600;
/** Slack over the part limit for multipart framing and for bytes still queued when the part limit trips. */
const MULTIPART_OVERHEAD = 4 * 1024 * 1024;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The 400 for an upload that no longer takes `action`, saying why. */
function notOpen(row: UploadRow, action: string): ApiError {
  const status = uploadStatus(row);
  const why =
    status === "pending"
      ? "is being completed"
      : status === "expired"
        ? `expired at ${new Date(row.expiresAt * 1000).toISOString()}`
        : `is already ${status}`;
  return badRequest(
    `Upload ${row.id} ${why}; ${action}.`,
    null,
    `upload_${status === "pending" ? "completing" : status}`,
  );
}

/** Hex md5 of the parts' concatenation, read as a stream (md5 is not in Web Crypto). */
async function md5Of(store: ObjectStore, parts: ObjectPart[]): Promise<string> {
  const hash = md5.create();
  const reader = readConcatenated(store, parts).body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) hash.update(read.value);
  return bytesToHex(hash.digest());
}

/** The parts named by `part_ids`, in that order, or the 400 naming the first bad id. */
function pickParts(upload: UploadRow, partIds: string[], parts: PartRow[]): PartRow[] {
  const byId = new Map(parts.map((p) => [p.id, p]));
  const seen = new Set<string>();
  return partIds.map((id, i) => {
    const param = `part_ids.${i}`;
    if (seen.has(id)) throw badRequest(`Part ${id} is listed more than once.`, param, "duplicate_part");
    seen.add(id);
    const part = byId.get(id);
    if (!part) throw badRequest(`No such part in upload ${upload.id}: ${id}.`, param, "invalid_part");
    return part;
  });
}

/** At most this many parts per upload (S3's own limit), so a file's list of part objects stays small. */
const MAX_PARTS = 10_000;

/**
 * Uploads: a large file sent in parts (in parallel if the client likes). Complete copies nothing: the file is the
 * listed part objects, in order (`files.parts`, read through `storage/composite.ts`), so completing a 1 GB upload
 * costs one database write on any store. A `fine-tune` file is then validated in the background.
 */
export function uploadsRoutes(deps: AppDeps) {
  const app = newRouter();
  const { db, store, limits } = deps;

  const uploadOr404 = async (projectId: string, uploadId: string) => {
    const row = await findUpload(db, projectId, uploadId);
    if (!row) throw notFound("Upload", uploadId);
    return row;
  };

  app.openapi(
    createRoute({
      method: "post",
      path: "/uploads",
      summary: "Create an upload; add parts within an hour, then complete it",
      request: { body: { content: { "application/json": { schema: CreateUploadBody } }, required: true } },
      responses: json(UploadObject, "The pending upload"),
    }),
    async (c) => {
      const body = c.req.valid("json");
      if (body.bytes > limits.maxUploadBytes) {
        throw badRequest(
          `Invalid value for 'bytes': an upload can be at most ${limits.maxUploadBytes} bytes; got ${body.bytes}.`,
          "bytes",
          "invalid_value",
        );
      }
      const createdAt = nowSeconds();
      const row = await insertUpload(db, {
        id: newId(ID_PREFIX.upload),
        projectId: c.get("projectId"),
        filename: body.filename,
        purpose: body.purpose,
        bytes: body.bytes,
        mimeType: body.mime_type,
        status: "pending",
        fileExpiresAfter: body.expires_after?.seconds ?? null,
        createdAt,
        expiresAt: createdAt + UPLOAD_TTL_SECONDS,
      });
      return c.json(toUploadObject(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/uploads/{upload_id}/parts",
      summary: "Add a part (multipart field `data`); parts may be sent in parallel",
      request: {
        params: UploadIdParams,
        body: { content: { "multipart/form-data": { schema: AddPartMultipart } }, required: true },
      },
      responses: json(UploadPartObject, "The stored part"),
    }),
    async (c) => {
      const projectId = c.get("projectId");
      // (`c.req.valid` is untyped here: the multipart body has no zod schema, so that it is never buffered.)
      const upload = await uploadOr404(projectId, c.req.param("upload_id"));
      if (!(await isUploadOpen(db, upload.id, nowSeconds()))) throw notOpen(upload, "no parts can be added");
      if ((await countParts(db, upload.id)) >= MAX_PARTS) {
        throw badRequest(`An upload can have at most ${MAX_PARTS} parts.`, "data", "too_many_parts");
      }
      const partId = newId(ID_PREFIX.part);
      const key = partKey(projectId, upload.id, partId);
      let result: IngestResult | null = null;
      let dataParts = 0;
      try {
        await readMultipart(c.req.raw, {
          fileFields: ["data"],
          // The rest of the body stays unread: the connection cannot carry another request.
          onAbandoned: () => c.header("connection", "close"),
          maxBodyBytes: limits.maxPartBytes + MULTIPART_OVERHEAD,
          onField(name) {
            throw badRequest(`Unknown parameter: '${name}'.`, name, "unknown_parameter");
          },
          async onFile(part, body) {
            dataParts += 1;
            if (dataParts > 1) {
              await body.cancel();
              throw badRequest("Only one 'data' may be sent.", "data", "invalid_value");
            }
            result = await ingest(body, {
              store,
              key,
              contentType: "application/octet-stream",
              maxBytes: limits.maxPartBytes,
              // `data` is the only field, so it is the last: the store may stream this much without buffering.
              lengthAtLeast: part.bytesIfLast,
            });
          },
        });
      } catch (err) {
        if ((result as IngestResult | null)?.stored) await store.delete(key).catch(() => {});
        throw ingestError(err, "data", "the field 'data'");
      }
      const stored = (result as IngestResult | null)?.stored;
      if (!stored) throw badRequest("Missing required parameter: 'data'.", "data", "missing_required_parameter");
      if (stored.bytes === 0) {
        await store.delete(key).catch(() => {});
        throw badRequest("The part is empty.", "data", "invalid_value");
      }
      const part = await insertPart(db, { id: partId, uploadId: upload.id, objectKey: key, bytes: stored.bytes });
      // Completed, cancelled or expired while this part streamed in: it must not linger.
      if (!(await isUploadOpen(db, upload.id, nowSeconds()))) {
        await deleteParts(deps, [part]);
        throw notOpen((await findUpload(db, projectId, upload.id)) ?? upload, "no parts can be added");
      }
      return c.json(toUploadPartObject(part), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/uploads/{upload_id}/complete",
      summary: "Complete an upload: its parts, in order, become one file",
      request: {
        params: UploadIdParams,
        body: { content: { "application/json": { schema: CompleteUploadBody } }, required: true },
      },
      responses: json(UploadObject, "The completed upload with its file"),
    }),
    async (c) => {
      const projectId = c.get("projectId");
      const upload = await uploadOr404(projectId, c.req.valid("param").upload_id);
      const body = c.req.valid("json");
      const now = nowSeconds();
      if (!(await isUploadOpen(db, upload.id, now))) throw notOpen(upload, "it cannot be completed");
      const parts = pickParts(upload, body.part_ids, await listParts(db, upload.id));
      const total = parts.reduce((sum, p) => sum + p.bytes, 0);
      if (total !== upload.bytes) {
        throw badRequest(
          `The parts add up to ${total} bytes, but the upload was created with bytes=${upload.bytes}.`,
          "part_ids",
          "bytes_mismatch",
        );
      }
      const fileId = newId(ID_PREFIX.file);
      if (!(await claimUpload(db, upload.id, fileId, now))) {
        throw notOpen((await findUpload(db, projectId, upload.id)) ?? upload, "it cannot be completed");
      }
      // One part is the file's object as it is; several are kept as a list of part objects.
      const objects: ObjectPart[] = parts.map((p) => ({ key: p.objectKey, bytes: p.bytes }));
      const single = objects.length === 1 ? (objects[0] as ObjectPart) : null;
      let file: NewFileRow & { createdAt: number };
      try {
        if (body.md5 && (await md5Of(store, objects)) !== body.md5.toLowerCase()) {
          throw badRequest("The md5 of the assembled parts does not match 'md5'.", "md5", "md5_mismatch");
        }
        const createdAt = nowSeconds();
        const dataset = upload.purpose === "fine-tune";
        file = {
          id: fileId,
          projectId,
          filename: upload.filename,
          purpose: upload.purpose,
          bytes: total,
          objectKey: single ? single.key : fileKey(projectId, fileId),
          parts: single ? null : objects,
          status: dataset ? "uploaded" : "processed",
          createdAt,
          expiresAt: upload.fileExpiresAfter ? createdAt + upload.fileExpiresAfter : null,
        };
        await finishUpload(db, upload.id, file);
      } catch (err) {
        await releaseUpload(db, upload.id, fileId);
        throw err;
      }
      // The listed parts' objects now belong to the file; parts sent but not listed are deleted.
      const listed = new Set(parts.map((p) => p.id));
      await deleteParts(
        deps,
        (await listParts(db, upload.id)).filter((p) => !listed.has(p.id)),
      );
      await forgetParts(db, [...listed]);
      // Hashed (and a dataset validated) in the background, in one read.
      deps.background(
        settleStoredFile(
          deps,
          { id: fileId, objectKey: file.objectKey, bytes: total, parts: file.parts },
          { validate: file.status === "uploaded" },
        ),
      );
      const fileRow: FileRow = {
        ...file,
        parts: file.parts ?? null,
        sha256: null,
        statusDetails: null,
        stats: null,
        deletedAt: null,
        expiresAt: file.expiresAt ?? null,
      };
      return c.json(toUploadObject({ ...upload, status: "completed", fileId }, toFileObject(fileRow)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/uploads/{upload_id}/cancel",
      summary: "Cancel an upload and delete its parts",
      request: { params: UploadIdParams },
      responses: json(UploadObject, "The cancelled upload"),
    }),
    async (c) => {
      const projectId = c.get("projectId");
      const upload = await uploadOr404(projectId, c.req.valid("param").upload_id);
      if (!(await markUploadCancelled(db, upload.id, nowSeconds()))) {
        throw notOpen((await findUpload(db, projectId, upload.id)) ?? upload, "it cannot be cancelled");
      }
      await deleteParts(deps, await listParts(db, upload.id));
      return c.json(toUploadObject({ ...upload, status: "cancelled" }), 200);
    },
  );

  return app;
}
