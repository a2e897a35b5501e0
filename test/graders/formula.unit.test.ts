import { describe, expect, it } from "vitest";
import { evaluateFormula, parseFormula } from "../../graders/index.ts";

const vars = { a: 0.5, b: 1, name: 1, email: 0, z: 0 };
const evalf = (src: string) => {
  const p = parseFormula(src, new Set(Object.keys(vars)));
  if (!p.ok) return p;
  return evaluateFormula(p.formula, vars);
};

describe("multi calculate_output formulas", () => {
  it("computes OpenAI's documented examples", () => {
    expect(evalf("(name + email) / 2")).toEqual({ ok: true, value: 0.5 });
    expect(evalf("0.5 * a + 0.5 * b")).toEqual({ ok: true, value: 0.75 });
  });

  it("has + - * / ^ with the usual precedence; ^ is power, right-associative, above unary minus", () => {
    expect(evalf("1 + 2 * 3 - 4 / 2")).toEqual({ ok: true, value: 5 });
    expect(evalf("2 ^ 3 ^ 2")).toEqual({ ok: true, value: 512 });
    expect(evalf("-2 ^ 2")).toEqual({ ok: true, value: -4 });
    expect(evalf("(-2) ^ 2")).toEqual({ ok: true, value: 4 });
    expect(evalf("2 * -b")).toEqual({ ok: true, value: -2 });
    expect(evalf("1e-1 + .5")).toEqual({ ok: true, value: 0.6 });
  });

  it("has min, max (any number of arguments), abs, floor, ceil, exp, sqrt, log (natural)", () => {
    expect(evalf("min(a, b, 0.2)")).toEqual({ ok: true, value: 0.2 });
    expect(evalf("max(a)")).toEqual({ ok: true, value: 0.5 });
    expect(evalf("abs(-3) + floor(2.7) + ceil(2.1)")).toEqual({ ok: true, value: 8 });
    expect(evalf("sqrt(16) + log(exp(2))")).toEqual({ ok: true, value: 6 });
  });

  it("reports division by zero and domain errors as evaluation errors", () => {
    expect(evalf("a / z")).toEqual({ ok: false, message: "division by zero" });
    expect(evalf("log(z)")).toMatchObject({ ok: false, message: expect.stringMatching(/log of a non-positive/) });
    expect(evalf("sqrt(-1)")).toMatchObject({ ok: false, message: expect.stringMatching(/sqrt of a negative/) });
  });

  it("rejects what is not arithmetic on the grader keys, with a message", () => {
    expect(evalf("a +")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/ends where a value was expected/),
    });
    expect(evalf("0.5 * a +  0.5 * b)")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/unexpected '\)'/),
    });
    expect(evalf("(a + b")).toMatchObject({ ok: false, message: expect.stringMatching(/expected '\)'/) });
    expect(evalf("c + a")).toMatchObject({ ok: false, message: expect.stringMatching(/unknown variable 'c'/) });
    expect(evalf("pow(a, 2)")).toMatchObject({ ok: false, message: expect.stringMatching(/unknown function 'pow'/) });
    expect(evalf("abs(a, b)")).toMatchObject({ ok: false, message: expect.stringMatching(/abs\(\) takes 1 argument/) });
    expect(evalf("a.constructor")).toMatchObject({ ok: false });
    expect(evalf("process.exit(1)")).toMatchObject({ ok: false });
    expect(evalf("a; b")).toMatchObject({ ok: false, message: expect.stringMatching(/unexpected character ';'/) });
    expect(evalf("")).toMatchObject({ ok: false });
    expect(evalf(`${"(".repeat(500)}a${")".repeat(500)}`)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/nested too deeply/),
    });
  });
});
