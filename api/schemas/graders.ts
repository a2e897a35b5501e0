import { z } from "@hono/zod-openapi";
import { Grader as GraderSchema } from "../../graders/index.ts";

/**
 * A grader definition. The body accepts any object here and the graders library's `validateGrader` checks it, so
 * an error names the exact field (`grader.graders.a.operation`) and covers what a schema cannot (templates, the
 * multi formula); the documented shape is the `Grader` component.
 */
export const GraderInput = z.record(z.string(), z.unknown()).openapi({
  description:
    "A grader: string_check, text_similarity, score_model, label_model, python or multi (see the Grader schema).",
  example: {
    type: "string_check",
    name: "exact",
    input: "{{sample.output_text}}",
    reference: "{{item.answer}}",
    operation: "eq",
  },
});

// Wrapped in a lazy schema made here: zod 4 gives `.openapi` only to schemas created after @hono/zod-openapi
// loaded, and the graders library (plain zod) may be imported first.
export const Grader = z.lazy(() => GraderSchema).openapi("Grader");

export const RunGraderRequest = z
  .object({
    grader: GraderInput,
    model_sample: z.string().openapi({
      description: "The model output; fills `sample.output_text`, and `sample.output_json` when it is JSON.",
    }),
    item: z.record(z.string(), z.unknown()).optional().openapi({ description: "The dataset row; fills `item`." }),
    /** The SDK's name for `item` before 2025-06-02; still accepted. */
    reference_answer: z
      .unknown()
      .optional()
      .openapi({ description: "Deprecated alias: used as `item` when `item` is absent." }),
  })
  .openapi("RunGraderRequest");

const TokenUsage = z
  .object({
    prompt_tokens: z.number(),
    completion_tokens: z.number(),
    total_tokens: z.number(),
    cached_tokens: z.number(),
  })
  .openapi("GraderTokenUsage");

const GraderErrors = z.object({
  formula_parse_error: z.boolean(),
  sample_parse_error: z.boolean(),
  truncated_observation_error: z.boolean(),
  unresponsive_reward_error: z.boolean(),
  invalid_variable_error: z.boolean(),
  other_error: z.boolean(),
  python_grader_server_error: z.boolean(),
  python_grader_server_error_type: z.string().nullable(),
  python_grader_runtime_error: z.boolean(),
  python_grader_runtime_error_details: z.string().nullable(),
  model_grader_server_error: z.boolean(),
  model_grader_refusal_error: z.boolean(),
  model_grader_parse_error: z.boolean(),
  model_grader_server_error_details: z.string().nullable(),
});

export const RunGraderResponse = z
  .object({
    reward: z.number(),
    metadata: z.object({
      name: z.string(),
      type: z.string(),
      errors: GraderErrors,
      execution_time: z.number().openapi({ description: "Seconds." }),
      scores: z.record(z.string(), z.unknown()),
      token_usage: TokenUsage.nullable(),
      sampled_model_name: z.string().nullable(),
      error: z.object({ code: z.string(), message: z.string(), grader: z.string().optional() }).nullable().openapi({
        description:
          "Beyond OpenAI: the first failure, typed (null on success). The flags above say the same in OpenAI's terms.",
      }),
    }),
    sub_rewards: z.record(z.string(), z.number()),
    model_grader_token_usage_per_model: z.record(z.string(), TokenUsage),
  })
  .openapi("RunGraderResponse");

export const ValidateGraderRequest = z.object({ grader: GraderInput }).openapi("ValidateGraderRequest");
export const ValidateGraderResponse = z.object({ grader: Grader }).openapi("ValidateGraderResponse");
