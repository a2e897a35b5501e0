import { z } from "@hono/zod-openapi";

const bool = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1")
  .optional();

/**
 * The environment, parsed once at start-up. A bad environment fails here, naming the variable, before any
 * route runs. `.env.example` lists every variable.
 */
export const EnvSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65_535).default(8787),
    HOST: z.string().default("127.0.0.1"),
    RFT_DATA_DIR: z.string().default(".data"),
    RFT_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    RFT_MAX_FILE_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(512 * 1024 * 1024),
    RFT_MAX_UPLOAD_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024 * 1024),
    RFT_MAX_PART_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    RFT_MAX_LINE_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    RFT_GRADER_BASE_URL: z.url().optional(),
    RFT_GRADER_API_KEY: z.string().optional(),
    RFT_EMBEDDING_MODEL: z.string().optional(),
    /** A local ONNX embedding model folder (model.onnx + tokenizer.json) for cosine graders, used over the endpoint. */
    RFT_GRADER_EMBEDDINGS_ONNX_DIR: z.string().optional(),
    /** WordNet 3.0 dict folder for meteor's synonym stage (Node; default /usr/share/wordnet if present; "" = off). */
    RFT_GRADER_WORDNET_DIR: z.string().optional(),
    RFT_PYTHON_GRADER_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
    RFT_PYTHON_GRADER_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
    RFT_PYTHON_GRADER_MEMORY_MB: z.coerce.number().int().min(64).optional(),
    /** Register this Hugging Face folder as a base model at start-up (name = folder name); default: the tiny model. */
    RFT_BASE_MODEL_DIR: z.string().optional(),
    /**
     * Base models named on the Hugging Face Hub, comma-separated (`Qwen/Qwen2.5-0.5B-Instruct,org/other`): listed
     * under /v1/models and fetched by the runners themselves (which must reach the Hub or have it in their HF cache).
     */
    RFT_HUB_MODELS: z
      .string()
      .default("")
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[\w.-]+\/[\w.-]+$/, "expected Hugging Face repo ids like org/name"))),
    S3_ENDPOINT: z.url().optional(),
    S3_BUCKET: z.string().min(1).optional(),
    S3_REGION: z.string().default("us-east-1"),
    /**
     * Both or neither: without them the AWS SDK's own credential chain is used (AWS_* variables, shared config,
     * an IAM role through instance metadata, ECS or EKS web identity).
     */
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_FORCE_PATH_STYLE: bool,
    /** Multipart part size and parts in flight per streamed put: memory per upload ≈ size × (queue + 1). */
    S3_PART_SIZE_MB: z.coerce.number().int().min(5).max(5120).default(8),
    S3_QUEUE_SIZE: z.coerce.number().int().min(1).max(64).default(2),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
      const [missing, given] = env.S3_ACCESS_KEY_ID
        ? ["S3_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID"]
        : ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"];
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: `is required when ${given} is set (or leave both out to use the AWS SDK's credential chain)`,
      });
    }
    if (env.S3_ENDPOINT && !env.S3_BUCKET) {
      ctx.addIssue({ code: "custom", path: ["S3_BUCKET"], message: "is required when S3_ENDPOINT is set" });
    }
  });
export type Env = z.infer<typeof EnvSchema>;

/** Parses `source` (process.env on Node, the bindings on Workers); throws one readable line per bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = EnvSchema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
  throw new Error(`Invalid environment:\n${lines.join("\n")}`);
}

/** Limits the API enforces on uploads, from the environment. */
export interface Limits {
  maxFileBytes: number;
  maxUploadBytes: number;
  maxPartBytes: number;
  maxLineBytes: number;
}

export const limitsFrom = (env: Env): Limits => ({
  maxFileBytes: env.RFT_MAX_FILE_BYTES,
  maxUploadBytes: env.RFT_MAX_UPLOAD_BYTES,
  maxPartBytes: env.RFT_MAX_PART_BYTES,
  maxLineBytes: env.RFT_MAX_LINE_BYTES,
});
