import { z } from "@hono/zod-openapi";

/** Query of every cursor-paged list, exactly as the `openai` SDK sends it: `after` = the last id seen. */
export const PageQuery = z.object({
  after: z.string().optional().openapi({ description: "Id of the last object of the previous page" }),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

export interface Page<T> {
  object: "list";
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/**
 * One page from rows fetched with `limit + 1`: the extra row only tells whether there is more.
 * Rows are already in page order, serialised by `toObject`.
 */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, toObject: (row: R) => T): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    object: "list",
    data: pageRows.map(toObject),
    first_id: pageRows[0]?.id ?? null,
    last_id: pageRows.at(-1)?.id ?? null,
    has_more: hasMore,
  };
}

/** The list envelope's OpenAPI schema for items of `item`. */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      object: z.literal("list"),
      data: z.array(item),
      first_id: z.string().nullable(),
      last_id: z.string().nullable(),
      has_more: z.boolean(),
    })
    .openapi(name);
}
