import { describe, expect, it } from "vitest";
import { checkTemplate, render, sampleFromText } from "../../graders/index.ts";

const scope = {
  sample: {
    ...sampleFromText('{"compliant": "yes", "n": 3}'),
    output_tools: [{ type: "function", function: { name: "get_acceptors", arguments: '{"smiles":"CCO"}' } }],
  },
  item: { answer: "Paris", ground_truth: { date: "2024-01-01", list: [1, 2] }, "odd key": "x", n: 0, nil: null },
};

describe("templates", () => {
  it("renders item and sample paths, with or without spaces in the braces", () => {
    expect(render("{{item.answer}} / {{ item.ground_truth.date }}", scope)).toEqual({
      ok: true,
      value: "Paris / 2024-01-01",
    });
    expect(render("{{sample.output_json.compliant}}", scope)).toEqual({ ok: true, value: "yes" });
    expect(render("{{sample.output_tools[0].function.name}}", scope)).toEqual({ ok: true, value: "get_acceptors" });
    expect(render('{{item["odd key"]}}', scope)).toEqual({ ok: true, value: "x" });
  });

  it("renders non-strings as JSON", () => {
    expect(render("{{item.ground_truth}}", scope)).toEqual({ ok: true, value: '{"date":"2024-01-01","list":[1,2]}' });
    expect(render("{{item.n}} {{sample.output_json.n}} {{item.nil}}", scope)).toEqual({ ok: true, value: "0 3 null" });
  });

  it("an unknown path is an error naming the path", () => {
    expect(render("x {{item.missing.deep}}", scope)).toEqual({
      ok: false,
      path: "item.missing.deep",
      message: "template variable 'item.missing.deep' not found in the item",
    });
    expect(render("{{sample.output_tools[3].function}}", scope)).toMatchObject({
      ok: false,
      path: "sample.output_tools[3].function",
    });
    expect(render("{{other.x}}", scope)).toMatchObject({ ok: false, path: "other.x" });
    expect(render("{{item.answer.length}}", scope)).toMatchObject({ ok: false, path: "item.answer.length" });
  });

  it("output_json is set only when the sample is JSON", () => {
    expect(sampleFromText("plain").output_json).toBeUndefined();
    expect(sampleFromText("[1, 2]").output_json).toEqual([1, 2]);
    expect(render("{{sample.output_json.x}}", { sample: sampleFromText("not json"), item: {} })).toMatchObject({
      ok: false,
      path: "sample.output_json.x",
    });
  });

  it("checkTemplate finds bad namespaces and syntax without data", () => {
    expect(checkTemplate("{{item.a}} {{sample.output_text}}")).toBeNull();
    expect(checkTemplate("{{items.a}}")).toMatch(/namespace 'items'/);
    expect(checkTemplate("{{item.a[}}")).toMatch(/not a valid template variable/);
  });
});
