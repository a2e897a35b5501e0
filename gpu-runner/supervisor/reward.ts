import { type GraderContext, Grader as GraderSchema, gradeBatch, sampleFromText } from "../../graders/index.ts";

/**
 * The grader port the loop talks to, the adapter onto the graders library (`graders/`: every OpenAI grader
 * type, the same code as /graders/run), a tiny built-in `string_check`, and the wrapper that gives every
 * sample its own timeout.
 */

export type Sample = { output_text: string };
export type Item = Record<string, unknown>;
export type RewardResult = { reward: number; error?: string };

/** Grades samples against their dataset items; one result per sample, in order. */
export interface RewardFn {
  grade(samples: Sample[], items: Item[]): Promise<RewardResult[]>;
}

export type StringCheckGrader = {
  type: "string_check";
  name?: string;
  input: string;
  reference: string;
  operation: "eq" | "ne" | "like" | "ilike";
};

/** Resolves `{{sample.output_text}}` and `{{item.<dotted.path>}}` in a template. */
export function renderTemplate(template: string, sample: Sample, item: Item): string {
  return template.replace(/\{\{\s*(sample|item)\.([\w.]+)\s*\}\}/g, (_m, root: string, dotted: string) => {
    let v: unknown = root === "sample" ? sample : item;
    for (const key of dotted.split(".")) {
      v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
    }
    if (v === undefined || v === null) return "";
    return typeof v === "string" ? v : JSON.stringify(v);
  });
}

/** OpenAI's `string_check`: 1 when the comparison holds, else 0. */
export function stringCheck(grader: StringCheckGrader): RewardFn {
  const compare = (a: string, b: string): boolean => {
    switch (grader.operation) {
      case "eq":
        return a === b;
      case "ne":
        return a !== b;
      case "like":
        return a.includes(b);
      case "ilike":
        return a.toLowerCase().includes(b.toLowerCase());
    }
  };
  return {
    async grade(samples, items) {
      return samples.map((s, i) => {
        const item = items[i] ?? {};
        return {
          reward: compare(renderTemplate(grader.input, s, item), renderTemplate(grader.reference, s, item)) ? 1 : 0,
        };
      });
    },
  };
}

/**
 * The RewardFn for a grader definition from the spec, graded by the graders library. `ctx` carries the model
 * endpoint and the python sandbox (graders/node.ts builds it on Node). Throws a message naming the bad field
 * when the definition is not a valid grader.
 */
export function rewardFnFor(grader: unknown, ctx: GraderContext = {}): RewardFn {
  const parsed = GraderSchema.safeParse(grader);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`grader.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid grader"}`);
  }
  const def = parsed.data;
  return {
    async grade(samples, items) {
      const inputs = samples.map((s, i) => ({ sample: sampleFromText(s.output_text), item: items[i] ?? {} }));
      const results = await gradeBatch(def, inputs, ctx);
      return results.map((r) =>
        r.metadata.error ? { reward: r.reward, error: r.metadata.error.message } : { reward: r.reward },
      );
    },
  };
}

export type GradeOutcome = {
  rewards: number[];
  /** Per-sample error message (timeout, throw, bad value); undefined where grading worked. */
  errors: (string | undefined)[];
  errorCount: number;
};

/**
 * Grades each sample on its own with a timeout, `concurrency` at a time, so one slow or broken sample costs
 * only its own reward: a sample whose grader throws, hangs past `timeoutMs`, or returns something that is
 * not a finite number gets reward 0 and an error, and the batch goes on.
 */
export async function gradeSamples(
  fn: RewardFn,
  samples: Sample[],
  items: Item[],
  options: { timeoutMs: number; concurrency?: number },
): Promise<GradeOutcome> {
  const rewards = new Array<number>(samples.length).fill(0);
  const errors = new Array<string | undefined>(samples.length).fill(undefined);
  const concurrency = Math.max(1, options.concurrency ?? 16);
  let next = 0;

  const gradeOne = async (i: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`grader timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    });
    try {
      const out = await Promise.race([fn.grade([samples[i]!], [items[i]!]), timeout]);
      const first = Array.isArray(out) ? out[0] : undefined;
      if (!first || typeof first.reward !== "number" || !Number.isFinite(first.reward)) {
        errors[i] = `grader returned no finite reward (got ${JSON.stringify(first ?? out)?.slice(0, 200)})`;
      } else {
        rewards[i] = first.reward;
        if (first.error) errors[i] = first.error;
      }
    } catch (err) {
      errors[i] = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, samples.length) }, async () => {
    while (next < samples.length) {
      const i = next++;
      await gradeOne(i);
    }
  });
  await Promise.all(workers);
  return { rewards, errors, errorCount: errors.filter((e) => e !== undefined).length };
}
