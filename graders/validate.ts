/**
 * validateGrader: the zod schema plus the checks a schema cannot express (templates, the multi formula, nested
 * multi), with the first problem named by its dotted path from `grader` (e.g. `grader.graders.a.operation`).
 */
import type { z } from "zod";
import { parseFormula } from "./formula.ts";
import { Grader, type SubGrader } from "./schema.ts";
import { checkTemplate } from "./template.ts";

export type ValidateResult = { ok: true; grader: Grader } | { ok: false; message: string; param: string };

type Issue = z.core.$ZodIssue;

function paramOf(path: ReadonlyArray<PropertyKey>): string {
  return ["grader", ...path.map(String)].join(".");
}

function fromIssue(issue: Issue): { message: string; param: string } {
  const path = [...issue.path];
  if (issue.code === "unrecognized_keys" && issue.keys.length > 0) {
    const param = paramOf([...path, issue.keys[0]!]);
    return { param, message: `Unknown parameter '${param}'.` };
  }
  const param = paramOf(path);
  return { param, message: `Invalid value for '${param}': ${issue.message}` };
}

/** Issues zod would report confusingly, caught first with a message that says what to do. */
function preCheck(input: unknown): { message: string; param: string } | null {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return { param: "grader", message: "The grader must be an object with a 'type'." };
  }
  const g = input as Record<string, unknown>;
  const types = ["string_check", "text_similarity", "score_model", "label_model", "python", "multi"];
  if (typeof g.type !== "string" || !types.includes(g.type)) {
    return { param: "grader.type", message: `Invalid value for 'grader.type': expected one of ${types.join(", ")}.` };
  }
  if (g.type === "multi") {
    const graders = g.graders;
    if (
      graders === null ||
      typeof graders !== "object" ||
      Array.isArray(graders) ||
      typeof (graders as { type?: unknown }).type === "string"
    ) {
      return {
        param: "grader.graders",
        message:
          'Invalid value for \'grader.graders\': expected a map from variable name to grader, e.g. {"a": {...}, "b": {...}}.',
      };
    }
    for (const [key, sub] of Object.entries(graders)) {
      if (sub && typeof sub === "object" && (sub as { type?: unknown }).type === "multi") {
        return {
          param: `grader.graders.${key}.type`,
          message: "You cannot create a multigrader with a nested multigrader inside.",
        };
      }
    }
  }
  return null;
}

/** Template strings of a (sub-)grader with their paths relative to it. */
function templatesOf(g: SubGrader): Array<[path: (string | number)[], template: string]> {
  switch (g.type) {
    case "string_check":
    case "text_similarity":
      return [
        [["input"], g.input],
        [["reference"], g.reference],
      ];
    case "score_model":
    case "label_model":
      return g.input.flatMap((m, i) => {
        const items = Array.isArray(m.content) ? m.content : [m.content];
        return items.flatMap((c, j): Array<[(string | number)[], string]> => {
          const base: (string | number)[] = Array.isArray(m.content)
            ? ["input", i, "content", j]
            : ["input", i, "content"];
          if (typeof c === "string") return [[base, c]];
          if (c.type === "input_text" || c.type === "output_text") return [[[...base, "text"], c.text]];
          if (c.type === "input_image") return [[[...base, "image_url"], c.image_url]];
          return [];
        });
      });
    case "python":
      return [];
  }
}

function checkTemplates(g: SubGrader, prefix: (string | number)[]): { message: string; param: string } | null {
  for (const [path, template] of templatesOf(g)) {
    const problem = checkTemplate(template);
    if (problem) {
      const param = paramOf([...prefix, ...path]);
      return { param, message: `Invalid template in '${param}': ${problem}.` };
    }
  }
  return null;
}

/** Validates a grader definition. */
export function validateGrader(input: unknown): ValidateResult {
  const pre = preCheck(input);
  if (pre) return { ok: false, ...pre };
  const parsed = Grader.safeParse(input);
  if (!parsed.success) return { ok: false, ...fromIssue(parsed.error.issues[0]!) };
  const grader = parsed.data;
  if (grader.type === "multi") {
    for (const [key, sub] of Object.entries(grader.graders)) {
      const bad = checkTemplates(sub, ["graders", key]);
      if (bad) return { ok: false, ...bad };
    }
    const formula = parseFormula(grader.calculate_output, new Set(Object.keys(grader.graders)));
    if (!formula.ok) {
      return {
        ok: false,
        param: "grader.calculate_output",
        message: `Invalid value for 'grader.calculate_output': ${formula.message}.`,
      };
    }
  } else {
    const bad = checkTemplates(grader, []);
    if (bad) return { ok: false, ...bad };
  }
  return { ok: true, grader };
}
