import { createRoute, z } from "@hono/zod-openapi";
import { createProjectWithKey } from "../../db/queries/auth.ts";
import type { AppDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { newRouter } from "../router.ts";

const CreateProject = z.object({ name: z.string().min(1).max(200) }).openapi("CreateProjectRequest");
const ProjectWithKey = z
  .object({
    object: z.literal("project"),
    id: z.string(),
    name: z.string(),
    api_key: z.string().openapi({ description: "Shown once; only its hash is stored." }),
  })
  .openapi("ProjectWithKey");

/** Beyond OpenAI: an admin key creates projects (tenants), each with its first member key. */
export function adminRoutes(deps: AppDeps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: "post",
      path: "/admin/projects",
      summary: "Create a project and its first API key (admin keys only)",
      request: { body: { content: { "application/json": { schema: CreateProject } }, required: true } },
      responses: { 200: { description: "The project", content: { "application/json": { schema: ProjectWithKey } } } },
    }),
    async (c) => {
      if (c.get("role") !== "admin")
        throw new ApiError(403, "Only an admin key can create projects.", { code: "forbidden" });
      const { name } = c.req.valid("json");
      const { projectId, secret } = await createProjectWithKey(deps.db, name);
      return c.json({ object: "project" as const, id: projectId, name, api_key: secret }, 200);
    },
  );
  return app;
}
