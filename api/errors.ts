import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one error class of the API. Everything that fails leaves as the OpenAI envelope
 * `{ error: { message, type, param, code } }` through `errorHandler`.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    options: { type?: string; param?: string | null; code?: string | null } = {},
  ) {
    super(message);
    this.status = status;
    this.type = options.type ?? defaultType(status);
    this.param = options.param ?? null;
    this.code = options.code ?? null;
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, { param, code });

/** 404 with OpenAI's wording: "No such File object: file-abc". Another project's ids land here too. */
export const notFound = (kind: string, id: string, param = "id") =>
  new ApiError(404, `No such ${kind} object: ${id}`, { param, code: "not_found" });

/** Hono's onError: ApiError as its envelope, anything else as a 500 that does not leak internals. */
export function errorHandler(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
  // Hono's own HTTPException (e.g. body limit) carries a status.
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return c.json(
      new ApiError(status as ContentfulStatusCode, err.message || "Bad request").toJSON(),
      status as ContentfulStatusCode,
    );
  }
  console.error(`[${c.get("requestId" as never) ?? "-"}]`, err);
  return c.json(new ApiError(500, "The server had an error while processing your request.").toJSON(), 500);
}
