/**
 * zod schemas for every OpenAI grader type, with OpenAI's exact field names (openai-node
 * `src/resources/graders/grader-models.ts`, openai-openapi `Grader*`). Each export is the schema and its type
 * under one name. Web-standard: no Node APIs.
 */
import { z } from "zod";

export const MAX_PYTHON_SOURCE_BYTES = 256 * 1024;

const name = z.string().min(1, "must be a non-empty string").max(256);

export const StringCheckGrader = z.strictObject({
  type: z.literal("string_check"),
  name,
  input: z.string(),
  reference: z.string(),
  operation: z.enum(["eq", "ne", "like", "ilike"]),
});
export type StringCheckGrader = z.infer<typeof StringCheckGrader>;

export const EVALUATION_METRICS = [
  "cosine",
  "fuzzy_match",
  "bleu",
  "gleu",
  "meteor",
  "rouge_1",
  "rouge_2",
  "rouge_3",
  "rouge_4",
  "rouge_5",
  "rouge_l",
] as const;

export const TextSimilarityGrader = z.strictObject({
  type: z.literal("text_similarity"),
  name,
  input: z.string(),
  reference: z.string(),
  evaluation_metric: z.enum(EVALUATION_METRICS),
  /** Only in the evals variant of this grader; tolerated here and reported as `passed` in metadata.scores. */
  pass_threshold: z.number().min(0).max(1).optional(),
});
export type TextSimilarityGrader = z.infer<typeof TextSimilarityGrader>;

/** A content item of an EvalItem message; template strings are allowed in its text fields. */
export const InputContentItem = z.union([
  z.string(),
  z.looseObject({ type: z.literal("input_text"), text: z.string() }),
  z.looseObject({ type: z.literal("output_text"), text: z.string() }),
  z.looseObject({
    type: z.literal("input_image"),
    image_url: z.string(),
    detail: z.enum(["high", "low", "auto"]).optional(),
  }),
  z.looseObject({
    type: z.literal("input_audio"),
    input_audio: z.object({ data: z.string(), format: z.enum(["mp3", "wav"]) }),
  }),
]);
export type InputContentItem = z.infer<typeof InputContentItem>;

export const EvalItem = z.strictObject({
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.union([InputContentItem, z.array(InputContentItem)]),
  type: z.literal("message").optional(),
});
export type EvalItem = z.infer<typeof EvalItem>;

export const SamplingParams = z.strictObject({
  seed: z.number().int().nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_completions_tokens: z.number().int().min(1).nullable().optional(),
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh", "max"]).nullable().optional(),
});
export type SamplingParams = z.infer<typeof SamplingParams>;

export const ScoreModelGrader = z.strictObject({
  type: z.literal("score_model"),
  name,
  model: z.string().min(1),
  input: z.array(EvalItem).min(1),
  range: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo < hi, "range must be [min, max] with min < max")
    .optional(),
  sampling_params: SamplingParams.nullable().optional(),
});
export type ScoreModelGrader = z.infer<typeof ScoreModelGrader>;

export const LabelModelGrader = z
  .strictObject({
    type: z.literal("label_model"),
    name,
    model: z.string().min(1),
    input: z.array(EvalItem).min(1),
    labels: z.array(z.string().min(1)).min(1),
    passing_labels: z.array(z.string().min(1)).min(1),
  })
  .superRefine((g, ctx) => {
    g.passing_labels.forEach((label, i) => {
      if (!g.labels.includes(label)) {
        ctx.addIssue({ code: "custom", path: ["passing_labels", i], message: `'${label}' is not one of labels` });
      }
    });
  });
export type LabelModelGrader = z.infer<typeof LabelModelGrader>;

export const PythonGrader = z.strictObject({
  type: z.literal("python"),
  name,
  source: z
    .string()
    .min(1)
    .refine((s) => new TextEncoder().encode(s).length < MAX_PYTHON_SOURCE_BYTES, "source must be under 256 kB")
    .refine((s) => /^\s*def\s+grade\s*\(/m.test(s), "source must define grade(sample, item)"),
  image_tag: z.string().optional(),
});
export type PythonGrader = z.infer<typeof PythonGrader>;

/** The graders a multi grader may hold: any but another multi ("You cannot create a multigrader with a nested multigrader inside"). */
export const SubGrader = z.discriminatedUnion("type", [
  StringCheckGrader,
  TextSimilarityGrader,
  ScoreModelGrader,
  LabelModelGrader,
  PythonGrader,
]);
export type SubGrader = z.infer<typeof SubGrader>;

/** Keys of `graders` are the variables of `calculate_output`, so they must be identifiers. */
const variableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "grader keys must be identifiers (letters, digits, _)");

export const MultiGrader = z.strictObject({
  type: z.literal("multi"),
  name,
  graders: z.record(variableName, SubGrader).refine((g) => Object.keys(g).length > 0, "needs at least one grader"),
  calculate_output: z.string().min(1),
});
export type MultiGrader = z.infer<typeof MultiGrader>;

export const Grader = z.discriminatedUnion("type", [
  StringCheckGrader,
  TextSimilarityGrader,
  ScoreModelGrader,
  LabelModelGrader,
  PythonGrader,
  MultiGrader,
]);
export type Grader = z.infer<typeof Grader>;
export type GraderType = Grader["type"];
