/**
 * The `calculate_output` language of multi graders: numbers, the grader keys as variables, `+ - * /`, `^` for
 * power (right-associative, binding tighter than unary minus), parentheses, and the functions OpenAI documents:
 * min, max (one or more arguments), abs, floor, ceil, exp, sqrt, log (natural). A recursive-descent parser builds
 * a small tree that is evaluated directly: no `eval`, no property access, nothing but arithmetic.
 */

export type Formula =
  | { kind: "num"; value: number }
  | { kind: "var"; name: string }
  | { kind: "neg"; arg: Formula }
  | { kind: "bin"; op: "+" | "-" | "*" | "/" | "^"; left: Formula; right: Formula }
  | { kind: "call"; fn: FunctionName; args: Formula[] };

const FUNCTIONS = {
  min: { arity: [1, Number.POSITIVE_INFINITY], fn: (xs: number[]) => Math.min(...xs) },
  max: { arity: [1, Number.POSITIVE_INFINITY], fn: (xs: number[]) => Math.max(...xs) },
  abs: { arity: [1, 1], fn: (xs: number[]) => Math.abs(xs[0]!) },
  floor: { arity: [1, 1], fn: (xs: number[]) => Math.floor(xs[0]!) },
  ceil: { arity: [1, 1], fn: (xs: number[]) => Math.ceil(xs[0]!) },
  exp: { arity: [1, 1], fn: (xs: number[]) => Math.exp(xs[0]!) },
  sqrt: { arity: [1, 1], fn: (xs: number[]) => Math.sqrt(xs[0]!) },
  log: { arity: [1, 1], fn: (xs: number[]) => Math.log(xs[0]!) },
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

export type ParseResult = { ok: true; formula: Formula; variables: Set<string> } | { ok: false; message: string };
export type EvalResult = { ok: true; value: number } | { ok: false; message: string };

type Token =
  | { kind: "num"; value: number; pos: number }
  | { kind: "id"; name: string; pos: number }
  | { kind: "op"; op: string; pos: number };

const MAX_LENGTH = 10_000;
const MAX_DEPTH = 100;

function tokenize(src: string): Token[] | string {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/^(),]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m)
      return `unexpected character '${src.slice(pos).trimStart()[0]}' at position ${pos + (src.slice(pos).length - src.slice(pos).trimStart().length)}`;
    const at = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? "").length;
    if (m[1] !== undefined) tokens.push({ kind: "num", value: Number(m[1]), pos: at });
    else if (m[2] !== undefined) tokens.push({ kind: "id", name: m[2], pos: at });
    else tokens.push({ kind: "op", op: m[3]!, pos: at });
    pos = re.lastIndex;
  }
  return tokens;
}

/** Parses a formula; `variables` lists the allowed variable names (the keys of `graders`). */
export function parseFormula(src: string, variables: ReadonlySet<string>): ParseResult {
  if (src.length > MAX_LENGTH) return { ok: false, message: `formula is longer than ${MAX_LENGTH} characters` };
  const tokens = tokenize(src);
  if (typeof tokens === "string") return { ok: false, message: tokens };
  let i = 0;
  let depth = 0;
  const used = new Set<string>();
  class ParseError extends Error {}
  const fail = (message: string): never => {
    throw new ParseError(message);
  };
  const peek = () => tokens[i];
  const isOp = (op: string) => {
    const t = tokens[i];
    return t !== undefined && t.kind === "op" && t.op === op;
  };
  const expect = (op: string) => {
    if (!isOp(op)) {
      const t = tokens[i];
      fail(t ? `expected '${op}' at position ${t.pos}` : `expected '${op}' at the end of the formula`);
    }
    i++;
  };
  const enter = () => {
    if (++depth > MAX_DEPTH) fail("formula is nested too deeply");
  };

  const expr = (): Formula => {
    enter();
    let left = term();
    while (isOp("+") || isOp("-")) {
      const op = (tokens[i++] as { op: "+" | "-" }).op;
      left = { kind: "bin", op, left, right: term() };
    }
    depth--;
    return left;
  };
  const term = (): Formula => {
    let left = unary();
    while (isOp("*") || isOp("/")) {
      const op = (tokens[i++] as { op: "*" | "/" }).op;
      left = { kind: "bin", op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Formula => {
    if (isOp("-") || isOp("+")) {
      const negate = isOp("-");
      i++;
      enter();
      const arg = unary();
      depth--;
      return negate ? { kind: "neg", arg } : arg;
    }
    return power();
  };
  const power = (): Formula => {
    const base = primary();
    if (isOp("^")) {
      i++;
      enter();
      const exponent = unary();
      depth--;
      return { kind: "bin", op: "^", left: base, right: exponent };
    }
    return base;
  };
  const primary = (): Formula => {
    const t = peek();
    if (t === undefined) return fail("the formula ends where a value was expected");
    if (t.kind === "num") {
      i++;
      return { kind: "num", value: t.value };
    }
    if (t.kind === "id") {
      i++;
      if (isOp("(")) {
        if (!Object.hasOwn(FUNCTIONS, t.name)) {
          return fail(`unknown function '${t.name}' (use ${Object.keys(FUNCTIONS).join(", ")})`);
        }
        const fn = t.name as FunctionName;
        i++;
        const args: Formula[] = [];
        if (!isOp(")")) {
          args.push(expr());
          while (isOp(",")) {
            i++;
            args.push(expr());
          }
        }
        expect(")");
        const [lo, hi] = FUNCTIONS[fn].arity;
        if (args.length < lo || args.length > hi) {
          fail(
            `${fn}() takes ${lo === hi ? lo : `at least ${lo}`} argument${lo === 1 && hi === 1 ? "" : "s"}, got ${args.length}`,
          );
        }
        return { kind: "call", fn, args };
      }
      if (!variables.has(t.name)) {
        return fail(
          `unknown variable '${t.name}' at position ${t.pos}; the variables are the keys of graders: ${[...variables].join(", ")}`,
        );
      }
      used.add(t.name);
      return { kind: "var", name: t.name };
    }
    if (t.op === "(") {
      i++;
      const inner = expr();
      expect(")");
      return inner;
    }
    return fail(`unexpected '${t.op}' at position ${t.pos}`);
  };

  try {
    if (tokens.length === 0) return { ok: false, message: "the formula is empty" };
    const formula = expr();
    if (i < tokens.length) {
      const t = tokens[i]!;
      return {
        ok: false,
        message: `unexpected '${t.kind === "op" ? t.op : t.kind === "id" ? t.name : t.value}' at position ${t.pos}`,
      };
    }
    return { ok: true, formula, variables: used };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, message: err.message };
    throw err;
  }
}

class FormulaEvalError extends Error {}

function evaluate(f: Formula, vars: Readonly<Record<string, number>>): number {
  switch (f.kind) {
    case "num":
      return f.value;
    case "var": {
      const v = vars[f.name];
      if (v === undefined) throw new FormulaEvalError(`variable '${f.name}' has no value`);
      return v;
    }
    case "neg":
      return -evaluate(f.arg, vars);
    case "call": {
      const args = f.args.map((a) => evaluate(a, vars));
      if (f.fn === "sqrt" && args[0]! < 0) throw new FormulaEvalError(`sqrt of a negative number (${args[0]})`);
      if (f.fn === "log" && args[0]! <= 0) throw new FormulaEvalError(`log of a non-positive number (${args[0]})`);
      return FUNCTIONS[f.fn].fn(args);
    }
    case "bin": {
      const a = evaluate(f.left, vars);
      const b = evaluate(f.right, vars);
      switch (f.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          if (b === 0) throw new FormulaEvalError("division by zero");
          return a / b;
        case "^":
          return a ** b;
      }
    }
  }
}

/** Evaluates a parsed formula; division by zero, domain errors and non-finite results are errors. */
export function evaluateFormula(formula: Formula, vars: Readonly<Record<string, number>>): EvalResult {
  try {
    const value = evaluate(formula, vars);
    if (!Number.isFinite(value))
      return { ok: false, message: `the formula's result is not a finite number (${value})` };
    return { ok: true, value };
  } catch (err) {
    if (err instanceof FormulaEvalError) return { ok: false, message: err.message };
    throw err;
  }
}
