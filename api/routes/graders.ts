import { createRoute } from "@hono/zod-openapi";
import { type Grader, runGrader, sampleFromText, validateGrader } from "../../graders/index.ts";
import type { AppDeps } from "../deps.ts";
import { badRequest } from "../errors.ts";
import { newRouter } from "../router.ts";
import {
  RunGraderRequest,
  RunGraderResponse,
  ValidateGraderRequest,
  ValidateGraderResponse,
} from "../schemas/graders.ts";

const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });

function checkedGrader(input: unknown): Grader {
  const check = validateGrader(input);
  if (!check.ok) throw badRequest(check.message, check.param, "invalid_grader");
  return check.grader;
}

/**
 * POST /fine_tuning/alpha/graders/run and /validate (paths relative to /v1). A grading failure is a 200 with
 * reward 0 and the error flags set (OpenAI: invalid results "return a 0 grade"); an invalid grader is a 400
 * naming the field.
 */
export function gradersRoutes(deps: AppDeps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/fine_tuning/alpha/graders/run",
      summary: "Run a grader on one model sample",
      request: { body: { ...json(RunGraderRequest), required: true } },
      responses: { 200: { description: "The reward and how it was computed", ...json(RunGraderResponse) } },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const grader = checkedGrader(body.grader);
      const legacy = body.reference_answer;
      const item =
        body.item ??
        (legacy && typeof legacy === "object" && !Array.isArray(legacy)
          ? (legacy as Record<string, unknown>)
          : legacy !== undefined
            ? { reference_answer: legacy }
            : {});
      // No overall budget here: the python pool and the model endpoint adapter apply their own limits (wall clock,
      // CPU, per-attempt timeouts with retries); a client that hangs up cancels the grading.
      const result = await runGrader(grader, { sample: sampleFromText(body.model_sample), item }, deps.graders, {
        signal: c.req.raw.signal,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/fine_tuning/alpha/graders/validate",
      summary: "Validate a grader",
      request: { body: { ...json(ValidateGraderRequest), required: true } },
      responses: { 200: { description: "The grader, as it will be used", ...json(ValidateGraderResponse) } },
    }),
    async (c) => {
      const { grader } = c.req.valid("json");
      return c.json({ grader: checkedGrader(grader) }, 200);
    },
  );

  return app;
}
