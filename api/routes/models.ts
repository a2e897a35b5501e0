import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, isNull } from "drizzle-orm";
import { models } from "../../db/schema/index.ts";
import type { AppDeps } from "../deps.ts";
import { badRequest, notFound } from "../errors.ts";
import { findModel, isCheckpointName, listModels, toModelObject } from "../models/registry.ts";
import { newRouter } from "../router.ts";

const Model = z
  .object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() })
  .openapi("Model");
const ModelParam = z.object({ model: z.string().openapi({ param: { name: "model", in: "path" } }) });

/** `/v1/models`: the base models every project can fine-tune and the project's own fine-tuned models. */
export function modelsRoutes(deps: AppDeps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/models",
      summary: "List models (single page, as OpenAI's)",
      responses: {
        200: {
          description: "Models",
          content: { "application/json": { schema: z.object({ object: z.literal("list"), data: z.array(Model) }) } },
        },
      },
    }),
    async (c) =>
      c.json(
        { object: "list" as const, data: (await listModels(deps.db, c.get("projectId"))).map(toModelObject) },
        200,
      ),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/models/{model}",
      summary: "Retrieve a model",
      request: { params: ModelParam },
      responses: { 200: { description: "The model", content: { "application/json": { schema: Model } } } },
    }),
    async (c) => {
      const name = c.req.valid("param").model;
      const row = await findModel(deps.db, c.get("projectId"), name);
      if (!row) throw notFound("model", name, "model");
      return c.json(toModelObject(row), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/models/{model}",
      summary: "Delete a fine-tuned model (its checkpoints' files stay downloadable)",
      request: { params: ModelParam },
      responses: {
        200: {
          description: "Deleted",
          content: {
            "application/json": {
              schema: z.object({ id: z.string(), object: z.literal("model"), deleted: z.boolean() }),
            },
          },
        },
      },
    }),
    async (c) => {
      const name = c.req.valid("param").model;
      const row = await findModel(deps.db, c.get("projectId"), name);
      if (!row) throw notFound("model", name, "model");
      if (row.kind !== "fine_tuned")
        throw badRequest("Only fine-tuned models can be deleted.", "model", "invalid_model");
      if (isCheckpointName(name)) {
        throw badRequest(
          "A checkpoint cannot be deleted; delete its job's fine-tuned model, or revoke its permissions.",
          "model",
          "invalid_model",
        );
      }
      await deps.db
        .update(models)
        .set({ deletedAt: Math.floor(Date.now() / 1000) })
        .where(and(eq(models.id, name), eq(models.projectId, c.get("projectId")), isNull(models.deletedAt)));
      return c.json({ id: name, object: "model" as const, deleted: true }, 200);
    },
  );
  return app;
}
