import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { requireApiKey } from "./auth.ts";
import type { AppDeps } from "./deps.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorHandler } from "./errors.ts";
import { renderReference } from "./reference-page.ts";
import { adminRoutes } from "./routes/admin.ts";
import { checkpointPermissionRoutes } from "./routes/checkpoint-permissions.ts";
import { checkpointsRoutes } from "./routes/checkpoints.ts";
import { filesRoutes } from "./routes/files.ts";
import { gradersRoutes } from "./routes/graders.ts";
import { jobsRoutes } from "./routes/jobs.ts";
import { modelsRoutes } from "./routes/models.ts";
import { type RunnerRouteOptions, runnerRoutes } from "./routes/runner.ts";
import { uploadsRoutes } from "./routes/uploads.ts";
import { webhooksRoutes } from "./routes/webhooks.ts";

export const API_VERSION = "0.1.0";

/**
 * The one app factory: the Node entry, the Workers entry and the tests build `deps` and call this.
 * Every resource is a sub-app mounted under `/v1`; everything under `/v1` needs an API key. The runner protocol
 * lives under `/runner` and takes job-scoped run tokens instead.
 */
export function createApp(deps: AppDeps, options: { runner?: RunnerRouteOptions } = {}) {
  const app = new OpenAPIHono<AppEnv>();
  app.use(
    requestId({
      headerName: "x-request-id",
      generator: () => `req_${crypto.randomUUID().replaceAll("-", "")}`,
    }),
  );
  app.onError(errorHandler);
  app.notFound((c) =>
    c.json(new ApiError(404, `Unknown route: ${c.req.method} ${c.req.path}`, { code: "unknown_url" }).toJSON(), 404),
  );

  app.get("/health", (c) => c.json({ status: "ok", version: API_VERSION, store: deps.store.kind }));
  app.use("/v1/*", requireApiKey(deps));
  app.route("/v1", filesRoutes(deps));
  app.route("/v1", uploadsRoutes(deps));
  app.route("/v1", gradersRoutes(deps));
  app.route("/v1", jobsRoutes(deps));
  app.route("/v1", checkpointsRoutes(deps));
  app.route("/v1", checkpointPermissionRoutes(deps));
  app.route("/v1", modelsRoutes(deps));
  app.route("/v1", webhooksRoutes(deps));
  app.route("/v1", adminRoutes(deps));
  app.route("/runner", runnerRoutes(deps, options.runner));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
  const docConfig = {
    openapi: "3.1.0",
    info: { title: "RFT platform API (OpenAI fine-tuning dialect)", version: API_VERSION },
    servers: [{ url: "/" }],
    security: [{ bearerAuth: [] }],
  };
  app.doc31("/openapi.json", docConfig);
  app.get("/docs", (c) => c.html(renderReference(app.getOpenAPI31Document(docConfig) as never)));
  return app;
}

export type App = ReturnType<typeof createApp>;
