/**
 * gradeBatch: many samples, one grader. Gradings run concurrently with a bound per leaf grader type (a multi
 * grader's sub-graders draw on their own type's bound), each sample under its own timeout, results in input order.
 */
import { gradeLocal, isLocal } from "./leaf.ts";
import type { GraderContext } from "./ports.ts";
import type { GraderResult } from "./result.ts";
import { type GradeInput, type Limiter, runGrader } from "./run.ts";
import type { Grader, GraderType } from "./schema.ts";

/** How many gradings of each type run at once unless told otherwise. */
export const DEFAULT_CONCURRENCY: Record<GraderType, number> = {
  string_check: 64,
  text_similarity: 64,
  // Model endpoints: enough to hide latency without tripping rate limits.
  score_model: 16,
  label_model: 16,
  // Python: enough to keep every warm worker's pipeline full.
  python: 64,
  multi: 64,
};

export interface BatchOptions {
  /** One bound for every type, or per type (missing types keep their default). */
  concurrency?: number | Partial<Record<GraderType, number>>;
  /** Per-sample wall-clock budget (ms); a sample past it gets reward 0 and a timeout error. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called as each sample finishes (for progress reporting). */
  onResult?: (index: number, result: GraderResult) => void;
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export function createLimiter(concurrency: BatchOptions["concurrency"]): Limiter {
  const limits = { ...DEFAULT_CONCURRENCY };
  if (typeof concurrency === "number") for (const k of Object.keys(limits) as GraderType[]) limits[k] = concurrency;
  else if (concurrency) Object.assign(limits, concurrency);
  const semaphores = new Map<GraderType, Semaphore>();
  return {
    run(type, task) {
      let s = semaphores.get(type);
      if (!s) {
        s = new Semaphore(Math.max(1, limits[type]));
        semaphores.set(type, s);
      }
      return s.run(task);
    },
  };
}

/** Grades every input with `grader`; never throws for grading failures. */
export async function gradeBatch(
  grader: Grader,
  inputs: readonly GradeInput[],
  ctx: GraderContext,
  options: BatchOptions = {},
): Promise<GraderResult[]> {
  const limiter = createLimiter(options.concurrency);
  const results = new Array<GraderResult>(inputs.length);
  // Local graders are synchronous CPU work, graded here without a promise each: yield to the event loop now and then
  // (the clock is read every 16 gradings) so timers and I/O still run.
  if (grader.type !== "multi" && isLocal(grader)) {
    let sliceStart = Date.now();
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      results[i] = gradeLocal(grader, { sample: input.sample, item: input.item ?? {} }, ctx);
      options.onResult?.(i, results[i]!);
      if ((i & 15) === 15 && Date.now() - sliceStart > 20) {
        await new Promise((r) => setTimeout(r, 0));
        sliceStart = Date.now();
      }
    }
    return results;
  }
  await Promise.all(
    inputs.map(async (input, i) => {
      const r = await runGrader(grader, input, ctx, {
        limiter,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      results[i] = r;
      options.onResult?.(i, r);
    }),
  );
  return results;
}
