/**
 * Grader templates: `{{ item.a.b }}`, `{{sample.output_text}}`, `{{sample.output_json.x}}`,
 * `{{sample.output_tools[0].function.name}}`. The namespaces are `item` and `sample`; a path that does not resolve
 * is an error naming the path (OpenAI's `invalid_variable_error`). Strings render as-is, other values as JSON.
 */

export interface Sample {
  output_text: string;
  output_json?: unknown;
  output_tools?: unknown[];
  choices?: unknown[];
}

export interface TemplateScope {
  sample: Sample;
  item: Record<string, unknown>;
}

export type Rendered = { ok: true; value: string } | { ok: false; path: string; message: string };

const TAG = /\{\{\s*(.*?)\s*\}\}/g;
const SEGMENT = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\])/;

/** Splits `item.a[0]["b c"]` into its namespace and keys; null when the syntax is not a path. */
export function parsePath(path: string): { namespace: string; keys: (string | number)[] } | null {
  const head = /^([A-Za-z_]\w*)/.exec(path);
  if (!head) return null;
  const keys: (string | number)[] = [];
  let rest = path.slice(head[0].length);
  while (rest.length > 0) {
    const m = SEGMENT.exec(rest);
    if (!m) return null;
    if (m[1] !== undefined) keys.push(m[1]);
    else if (m[2] !== undefined) keys.push(Number(m[2]));
    else keys.push((m[3] ?? m[4] ?? "").replace(/\\(.)/g, "$1"));
    rest = rest.slice(m[0].length);
  }
  return { namespace: head[1]!, keys };
}

/** Checks a template's syntax and namespaces without data: the first bad tag, or null. */
export function checkTemplate(template: string): string | null {
  for (const m of template.matchAll(TAG)) {
    const parsed = parsePath(m[1]!);
    if (!parsed) return `'${m[0]}' is not a valid template variable`;
    if (parsed.namespace !== "item" && parsed.namespace !== "sample") {
      return `'${m[0]}' uses namespace '${parsed.namespace}'; the only namespaces are 'item' and 'sample'`;
    }
  }
  return null;
}

type Compiled = Array<string | { path: string; parsed: ReturnType<typeof parsePath> }>;

/** Parsed templates, so the regex and path parsing run once per template, not once per grading. */
const compiled = new Map<string, Compiled>();

function compile(template: string): Compiled {
  let c = compiled.get(template);
  if (c) return c;
  c = [];
  let last = 0;
  for (const m of template.matchAll(TAG)) {
    c.push(template.slice(last, m.index), { path: m[1]!, parsed: parsePath(m[1]!) });
    last = m.index + m[0].length;
  }
  c.push(template.slice(last));
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(template, c);
  return c;
}

function lookup(
  scope: TemplateScope,
  path: string,
  parsed: ReturnType<typeof parsePath>,
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (!parsed) return { ok: false, message: `'${path}' is not a valid template variable` };
  if (parsed.namespace !== "item" && parsed.namespace !== "sample") {
    return { ok: false, message: `unknown namespace '${parsed.namespace}' in '${path}' (use item or sample)` };
  }
  let value: unknown = parsed.namespace === "item" ? scope.item : scope.sample;
  for (const key of parsed.keys) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) {
      return { ok: false, message: `template variable '${path}' not found in the ${parsed.namespace}` };
    }
    value = (value as Record<string | number, unknown>)[key];
  }
  if (value === undefined)
    return { ok: false, message: `template variable '${path}' not found in the ${parsed.namespace}` };
  return { ok: true, value };
}

/** Renders every `{{ path }}` in `template`. */
export function render(template: string, scope: TemplateScope): Rendered {
  if (!template.includes("{{")) return { ok: true, value: template };
  let out = "";
  for (const part of compile(template)) {
    if (typeof part === "string") {
      out += part;
      continue;
    }
    const found = lookup(scope, part.path, part.parsed);
    if (!found.ok) return { ok: false, path: part.path, message: found.message };
    out += typeof found.value === "string" ? found.value : JSON.stringify(found.value);
  }
  return { ok: true, value: out };
}

/** The sample a grader sees for a raw model answer: `output_json` is set when the text parses as JSON. */
export function sampleFromText(text: string): Sample {
  const sample: Sample = { output_text: text };
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      sample.output_json = JSON.parse(trimmed);
    } catch {
      // Not JSON: output_json stays unset, and templates that use it report the missing variable.
    }
  }
  return sample;
}
