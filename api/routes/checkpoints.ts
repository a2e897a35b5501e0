import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { checkpoints } from "../../db/schema/index.ts";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../errors.ts";
import { newRouter } from "../router.ts";

const CheckpointParam = z.object({
  checkpoint_id: z.string().openapi({ param: { name: "checkpoint_id", in: "path" } }),
});
const FileParam = CheckpointParam.extend({
  name: z
    .string()
    .openapi({ param: { name: "name", in: "path" }, description: "URL-encoded file name, e.g. onnx%2Fmodel.onnx" }),
});

const CheckpointFileList = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({
        object: z.literal("checkpoint.file"),
        name: z.string(),
        bytes: z.number().int(),
        sha256: z.string().nullable(),
        /** Presigned URL where the store has them, else this API's streaming route. Valid for an hour. */
        download_url: z.string(),
      }),
    ),
  })
  .openapi("CheckpointFileList");

/**
 * Beyond OpenAI: a checkpoint's files (merged safetensors, PEFT adapter, ONNX) — listed, and downloaded either
 * streamed through the API or from a presigned URL.
 */
export function checkpointsRoutes(deps: AppDeps) {
  const app = newRouter();

  async function findCheckpoint(projectId: string, id: string) {
    const rows = await deps.db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.id, id), eq(checkpoints.projectId, projectId)))
      .limit(1);
    if (!rows[0]) throw notFound("checkpoint", id, "checkpoint_id");
    return rows[0];
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/checkpoints/{checkpoint_id}/files",
      summary: "List a checkpoint's files with download URLs",
      request: { params: CheckpointParam },
      responses: { 200: { description: "Files", content: { "application/json": { schema: CheckpointFileList } } } },
    }),
    async (c) => {
      const ckpt = await findCheckpoint(c.get("projectId"), c.req.valid("param").checkpoint_id);
      const origin = new URL(c.req.url).origin;
      const data = await Promise.all(
        ckpt.files.map(async (f) => ({
          object: "checkpoint.file" as const,
          name: f.name,
          bytes: f.bytes,
          sha256: f.sha256 ?? null,
          download_url:
            (await deps.store.presign(`${ckpt.objectPrefix}/${f.name}`, "GET", 3600)) ??
            `${origin}/v1/fine_tuning/checkpoints/${ckpt.id}/files/${encodeURIComponent(f.name)}`,
        })),
      );
      return c.json({ object: "list" as const, data }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/checkpoints/{checkpoint_id}/files/{name}",
      summary: "Download one checkpoint file (streamed)",
      request: { params: FileParam },
      responses: { 200: { description: "The bytes", content: { "application/octet-stream": { schema: z.any() } } } },
    }),
    async (c) => {
      const { checkpoint_id, name } = c.req.valid("param");
      const ckpt = await findCheckpoint(c.get("projectId"), checkpoint_id);
      const file = ckpt.files.find((f) => f.name === name);
      if (!file) throw notFound("checkpoint file", name, "name");
      const obj = await deps.store.get(`${ckpt.objectPrefix}/${file.name}`);
      if (!obj) throw notFound("checkpoint file", name, "name");
      return new Response(obj.body, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(obj.bytes),
          "content-disposition": `attachment; filename="${file.name.split("/").at(-1)}"`,
        },
      });
    },
  );
  return app;
}
