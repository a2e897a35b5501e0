import { createRoute, type z } from "@hono/zod-openapi";
import { findFile, insertFile, listFiles, markFileDeleted } from "../../db/queries/files.ts";
import { deleteComposite, openComposite } from "../../storage/composite.ts";
import { type IngestResult, ingest } from "../datasets/ingest.ts";
import { datasetStats, ingestError, invalidDataset } from "../datasets/ingest-errors.ts";
import { readMultipart } from "../datasets/multipart.ts";
import { DatasetValidator } from "../datasets/validate.ts";
import type { AppDeps } from "../deps.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";
import { toPage } from "../lib/pagination.ts";
import { newRouter } from "../router.ts";
import {
  CreateFileMultipart,
  ExpiresAfter,
  FILE_PURPOSES,
  FileDeleted,
  FileIdParams,
  FileList,
  FileListQuery,
  FileObject,
  type FilePurpose,
  toFileObject,
} from "../schemas/files.ts";

/** Object key of a file. Never derived from the client's file name. */
export const fileKey = (projectId: string, fileId: string) => `files/${projectId}/${fileId}`;

/** `purpose=batch` files expire after 30 days unless `expires_after` says otherwise (OpenAI's default). */
const BATCH_EXPIRY_SECONDS = 30 * 24 * 3600;
const MAX_FILENAME = 512;
const FIELDS = new Set(["purpose", "expires_after[anchor]", "expires_after[seconds]"]);
/** Slack over the file limit for multipart framing and for bytes still queued when the file limit trips. */
const MULTIPART_OVERHEAD = 4 * 1024 * 1024;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});

const isPurpose = (value: string): value is FilePurpose => (FILE_PURPOSES as readonly string[]).includes(value);

/** The non-file fields of `POST /files`, checked once the whole body has been read. */
function checkFields(fields: Map<string, string>): { purpose: FilePurpose; expiresAfter: number | null } {
  const purpose = fields.get("purpose");
  if (purpose === undefined) {
    throw badRequest("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
  }
  if (!isPurpose(purpose)) {
    throw badRequest(
      `Invalid value for 'purpose': expected one of ${FILE_PURPOSES.join(", ")}; got '${purpose}'.`,
      "purpose",
      "invalid_value",
    );
  }
  const anchor = fields.get("expires_after[anchor]");
  const seconds = fields.get("expires_after[seconds]");
  if (anchor === undefined && seconds === undefined) return { purpose, expiresAfter: null };
  const parsed = ExpiresAfter.safeParse({ anchor, seconds });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = `expires_after.${String(issue?.path[0] ?? "seconds")}`;
    throw badRequest(`Invalid value for '${param}': ${issue?.message ?? "invalid"}`, param, "invalid_value");
  }
  return { purpose, expiresAfter: parsed.data.seconds };
}

interface ReceivedFile {
  filename: string;
  result: IngestResult;
  validator: DatasetValidator | undefined;
}

/** Files: upload (streamed into the store, datasets validated on the way), list, retrieve, content, delete. */
export function filesRoutes(deps: AppDeps) {
  const app = newRouter();
  const { store, db, limits } = deps;

  app.openapi(
    createRoute({
      method: "post",
      path: "/files",
      summary: "Upload a file. `fine-tune` files are validated line by line while they stream in.",
      request: { body: { content: { "multipart/form-data": { schema: CreateFileMultipart } }, required: true } },
      responses: json(FileObject, "The stored file"),
    }),
    async (c) => {
      const projectId = c.get("projectId");
      const fileId = newId(ID_PREFIX.file);
      const key = fileKey(projectId, fileId);
      const fields = new Map<string, string>();
      let received: ReceivedFile | null = null;
      let fileParts = 0;
      try {
        await readMultipart(c.req.raw, {
          fileFields: ["file"],
          // The rest of the body stays unread: the connection cannot carry another request.
          onAbandoned: () => c.header("connection", "close"),
          maxBodyBytes: limits.maxFileBytes + MULTIPART_OVERHEAD,
          onField(name, value) {
            if (!FIELDS.has(name)) throw badRequest(`Unknown parameter: '${name}'.`, name, "unknown_parameter");
            if (fields.has(name))
              throw badRequest(`Parameter '${name}' is given more than once.`, name, "invalid_value");
            fields.set(name, value);
          },
          async onFile(part, body) {
            fileParts += 1;
            if (fileParts > 1) {
              await body.cancel();
              throw badRequest("Only one 'file' may be sent.", "file", "invalid_value");
            }
            // The SDK sends `file` before `purpose`: until purpose is known, validate as if it were a dataset.
            const known = fields.get("purpose");
            const validator =
              known === undefined || known === "fine-tune"
                ? new DatasetValidator({ maxLineBytes: limits.maxLineBytes })
                : undefined;
            const result = await ingest(body, {
              store,
              key,
              contentType: part.contentType || "application/octet-stream",
              maxBytes: limits.maxFileBytes,
              validator,
              stopOnProblem: () => fields.get("purpose") === "fine-tune",
            });
            received = { filename: (part.filename || "file").slice(0, MAX_FILENAME), result, validator };
          },
        });
        const file = received as ReceivedFile | null;
        if (!file) throw badRequest("Missing required parameter: 'file'.", "file", "missing_required_parameter");
        const { purpose, expiresAfter } = checkFields(fields);
        if (file.result.bytes === 0) throw badRequest("The file is empty.", "file", "invalid_file");
        let stats: Record<string, unknown> | null = null;
        if (purpose === "fine-tune") {
          const report = (file.validator as DatasetValidator).finish();
          if (!report.valid) throw invalidDataset(file.filename, report);
          stats = datasetStats(report);
        }
        const stored = file.result.stored;
        if (!stored) throw new Error("file was not stored"); // storing stops only for a rejected dataset
        const createdAt = Math.floor(Date.now() / 1000);
        const expiresIn = expiresAfter ?? (purpose === "batch" ? BATCH_EXPIRY_SECONDS : null);
        const row = await insertFile(db, {
          id: fileId,
          projectId,
          filename: file.filename,
          purpose,
          bytes: stored.bytes,
          sha256: stored.sha256,
          objectKey: key,
          status: "processed",
          stats,
          createdAt,
          expiresAt: expiresIn === null ? null : createdAt + expiresIn,
        });
        return c.json(toFileObject(row), 200);
      } catch (err) {
        // No row was written; make sure no object stays either.
        if ((received as ReceivedFile | null)?.result.stored) await store.delete(key).catch(() => {});
        throw ingestError(err, "file", "the fields 'file' and 'purpose'");
      }
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/files",
      summary: "List files, newest first by default",
      request: { query: FileListQuery },
      responses: json(FileList, "A page of files"),
    }),
    async (c) => {
      const { after, limit = 10_000, order = "desc", purpose } = c.req.valid("query");
      const rows = await listFiles(db, c.get("projectId"), { after, limit, order, purpose });
      return c.json(toPage(rows, limit, toFileObject), 200);
    },
  );

  const fileOr404 = async (projectId: string, fileId: string) => {
    const row = await findFile(db, projectId, fileId);
    if (!row) throw notFound("File", fileId);
    return row;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/files/{file_id}",
      summary: "Retrieve a file",
      request: { params: FileIdParams },
      responses: json(FileObject, "The file"),
    }),
    async (c) => c.json(toFileObject(await fileOr404(c.get("projectId"), c.req.valid("param").file_id)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/files/{file_id}/content",
      summary: "Download a file's bytes (streamed)",
      request: { params: FileIdParams },
      responses: {
        200: {
          description: "The file's bytes",
          content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
        },
      },
    }),
    async (c) => {
      const row = await fileOr404(c.get("projectId"), c.req.valid("param").file_id);
      const object = await openComposite(store, row);
      if (!object) throw new ApiError(500, `The content of ${row.id} is missing from the object store.`);
      return new Response(object.body, {
        status: 200,
        headers: {
          "content-type": object.contentType || "application/octet-stream",
          "content-length": String(object.bytes),
          "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(row.filename)}`,
        },
      });
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/files/{file_id}",
      summary: "Delete a file and its bytes",
      request: { params: FileIdParams },
      responses: json(FileDeleted, "The deletion"),
    }),
    async (c) => {
      const fileId = c.req.valid("param").file_id;
      const row = await markFileDeleted(db, c.get("projectId"), fileId);
      if (!row) throw notFound("File", fileId);
      // The row is gone for the API first; an object left by a failed delete is only garbage, never visible.
      await deleteComposite(store, row).catch((err) => console.error(`could not delete the bytes of ${fileId}:`, err));
      return c.json({ id: row.id, object: "file" as const, deleted: true }, 200);
    },
  );

  return app;
}
