import { createMiddleware } from "hono/factory";
import { findActiveKey } from "../db/queries/auth.ts";
import type { AppDeps } from "./deps.ts";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

/** `Authorization: Bearer <key>` → the key's project on the context; anything else is a 401 in the envelope. */
export const requireApiKey = (deps: AppDeps) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        { code: "missing_api_key" },
      );
    }
    const key = await findActiveKey(deps.db, match[1]);
    if (!key) {
      const shown = match[1].length > 10 ? `${match[1].slice(0, 6)}…${match[1].slice(-4)}` : "****";
      throw new ApiError(401, `Incorrect API key provided: ${shown}.`, { code: "invalid_api_key" });
    }
    c.set("projectId", key.projectId);
    c.set("apiKeyId", key.id);
    c.set("role", key.role);
    await next();
  });
