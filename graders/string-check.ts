/** string_check: eq / ne (case-sensitive equality), like (input contains reference), ilike (case-insensitive contains). */
import type { StringCheckGrader } from "./schema.ts";

export function stringCheck(operation: StringCheckGrader["operation"], input: string, reference: string): number {
  switch (operation) {
    case "eq":
      return input === reference ? 1 : 0;
    case "ne":
      return input !== reference ? 1 : 0;
    case "like":
      return input.includes(reference) ? 1 : 0;
    case "ilike":
      return input.toLowerCase().includes(reference.toLowerCase()) ? 1 : 0;
  }
}
