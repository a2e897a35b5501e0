import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

type Issue = { path: ReadonlyArray<PropertyKey>; message: string; code?: string };

/** Dotted path of a zod issue, e.g. `method.reinforcement.grader.operation` (array indexes as numbers). */
export function issuePath(issue: Issue): string | null {
  return issue.path.length ? issue.path.map(String).join(".") : null;
}

/** The message we show for a zod failure: the first issue, with its field. */
export function zodToApiError(issues: ReadonlyArray<Issue>, target: string): ApiError {
  const first = issues[0];
  if (!first) return new ApiError(400, `Invalid ${target}`);
  const param = issuePath(first);
  const where = param ? `'${param}'` : `the ${target}`;
  return new ApiError(400, `Invalid value for ${where}: ${first.message}`, { param, code: "invalid_value" });
}

/**
 * A sub-app for one resource. Its zod failures become 400s in the OpenAI envelope naming the first bad field,
 * so every route validates the same way.
 */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, _c) => {
      if (!result.success) {
        const issues = (result.error as { issues: Issue[] }).issues;
        throw zodToApiError(issues, result.target === "json" ? "request body" : result.target);
      }
    },
  });
}
