import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, inArray, lt, type SQL } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { checkpointPermissions, checkpoints, projects } from "../../db/schema/index.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { ID_PREFIX, newId } from "../lib/ids.ts";
import { pageSchema, toPage } from "../lib/pagination.ts";
import { newRouter } from "../router.ts";

const CheckpointParam = z.object({
  fine_tuned_model_checkpoint: z.string().openapi({
    param: { name: "fine_tuned_model_checkpoint", in: "path" },
    description: "The checkpoint's model name, e.g. ft:tiny-arith:proj:suffix:ftjob-…:ckpt-step-4",
  }),
});
const PermissionParam = CheckpointParam.extend({
  permission_id: z.string().openapi({ param: { name: "permission_id", in: "path" } }),
});

/** At most this many projects per grant (and D1 binds at most 100 parameters per statement). */
const MAX_PROJECTS = 50;
const CreatePermissions = z
  .object({ project_ids: z.array(z.string().min(1)).min(1).max(MAX_PROJECTS) })
  .strict()
  .openapi("CreateCheckpointPermissionsRequest");
const ListQuery = z.object({
  after: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  order: z.enum(["ascending", "descending"]).default("descending"),
  project_id: z.string().optional(),
});

const Permission = z
  .object({
    object: z.literal("checkpoint.permission"),
    id: z.string(),
    created_at: z.number().int(),
    project_id: z.string(),
  })
  .openapi("CheckpointPermission");
const PermissionList = pageSchema(Permission, "CheckpointPermissionList");
const PermissionDeleted = z
  .object({ object: z.literal("checkpoint.permission"), id: z.string(), deleted: z.boolean() })
  .openapi("CheckpointPermissionDeleted");

type PermissionRow = typeof checkpointPermissions.$inferSelect;
const toPermission = (row: PermissionRow) => ({
  object: "checkpoint.permission" as const,
  id: row.id,
  created_at: row.createdAt,
  project_id: row.granteeProjectId,
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
});

/**
 * Checkpoint permissions (OpenAI's, for admin keys): share a checkpoint with other projects, which may then use its
 * model name (`fine_tuned_model_checkpoint`) as a job's `model` (fine-tune from it) and retrieve it under
 * `/v1/models`. An admin key acts across projects, as OpenAI's organisation-wide admin keys do.
 */
export function checkpointPermissionRoutes(deps: AppDeps) {
  const app = newRouter();
  const { db } = deps;

  const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
    if (c.get("role") !== "admin") throw adminOnly();
    await next();
  });
  app.use("/fine_tuning/checkpoints/:fine_tuned_model_checkpoint/permissions", requireAdmin);
  app.use("/fine_tuning/checkpoints/:fine_tuned_model_checkpoint/permissions/*", requireAdmin);

  const checkpointOr404 = async (name: string) => {
    const [row] = await db.select().from(checkpoints).where(eq(checkpoints.modelName, name)).limit(1);
    if (!row) throw notFound("checkpoint", name, "fine_tuned_model_checkpoint");
    return row;
  };

  app.openapi(
    createRoute({
      method: "post",
      path: "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
      summary: "Share a checkpoint with projects (admin keys only)",
      request: {
        params: CheckpointParam,
        body: { content: { "application/json": { schema: CreatePermissions } }, required: true },
      },
      responses: json(PermissionList, "The permissions of the projects named, new or already there"),
    }),
    async (c) => {
      const ckpt = await checkpointOr404(c.req.valid("param").fine_tuned_model_checkpoint);
      const asked = c.req.valid("json").project_ids;
      const ids = [...new Set(asked)];
      const known = new Set(
        (await db.select({ id: projects.id }).from(projects).where(inArray(projects.id, ids))).map((p) => p.id),
      );
      const unknown = asked.findIndex((id) => !known.has(id));
      if (unknown >= 0) {
        throw badRequest(`No such project: ${asked[unknown]}.`, `project_ids.${unknown}`, "project_not_found");
      }
      // Granting again is not an error: the existing permission is returned.
      await db
        .insert(checkpointPermissions)
        .values(
          ids.map((id) => ({ id: newId(ID_PREFIX.checkpointPermission), checkpointId: ckpt.id, granteeProjectId: id })),
        )
        .onConflictDoNothing();
      const rows = await db
        .select()
        .from(checkpointPermissions)
        .where(
          and(eq(checkpointPermissions.checkpointId, ckpt.id), inArray(checkpointPermissions.granteeProjectId, ids)),
        )
        .orderBy(asc(checkpointPermissions.id));
      return c.json(toPage(rows, rows.length, toPermission), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
      summary: "List a checkpoint's permissions (admin keys only)",
      request: { params: CheckpointParam, query: ListQuery },
      responses: json(PermissionList, "One page; the next starts after `last_id`"),
    }),
    async (c) => {
      const ckpt = await checkpointOr404(c.req.valid("param").fine_tuned_model_checkpoint);
      const { after, limit, order, project_id } = c.req.valid("query");
      const conditions: SQL[] = [eq(checkpointPermissions.checkpointId, ckpt.id)];
      if (project_id) conditions.push(eq(checkpointPermissions.granteeProjectId, project_id));
      const ascending = order === "ascending";
      if (after) conditions.push(ascending ? gt(checkpointPermissions.id, after) : lt(checkpointPermissions.id, after));
      const rows = await db
        .select()
        .from(checkpointPermissions)
        .where(and(...conditions))
        .orderBy(ascending ? asc(checkpointPermissions.id) : desc(checkpointPermissions.id))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, toPermission), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}",
      summary: "Revoke a checkpoint permission (admin keys only)",
      request: { params: PermissionParam },
      responses: json(PermissionDeleted, "The revoked permission"),
    }),
    async (c) => {
      const { fine_tuned_model_checkpoint, permission_id } = c.req.valid("param");
      const ckpt = await checkpointOr404(fine_tuned_model_checkpoint);
      const deleted = await db
        .delete(checkpointPermissions)
        .where(and(eq(checkpointPermissions.id, permission_id), eq(checkpointPermissions.checkpointId, ckpt.id)))
        .returning({ id: checkpointPermissions.id });
      if (!deleted[0]) throw notFound("checkpoint permission", permission_id, "permission_id");
      return c.json({ object: "checkpoint.permission" as const, id: permission_id, deleted: true }, 200);
    },
  );

  return app;
}

const adminOnly = () =>
  new ApiError(403, "Checkpoint permissions need an admin API key (the OpenAI SDK's `adminAPIKey`).", {
    code: "admin_key_required",
  });
