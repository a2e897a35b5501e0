/** The streaming dataset validator, fed byte chunks directly. */
import { describe, expect, it } from "vitest";
import { DatasetValidator, describeProblems, validateDataset, validatingStream } from "../../api/datasets/validate.ts";
import { rftJsonl, rftLine, sftLine } from "./fixtures.ts";

const enc = new TextEncoder();

/** Validates `text` fed in chunks of `chunkSize` bytes (to cross line ends at every offset). */
function validate(text: string | Uint8Array, chunkSize = 7, maxLineBytes = 1 << 20) {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  const v = new DatasetValidator({ maxLineBytes });
  for (let i = 0; i < bytes.length; i += chunkSize) v.push(bytes.subarray(i, i + chunkSize));
  return v.finish();
}

describe("DatasetValidator", () => {
  it("accepts reinforcement lines and records format, counts and grader fields", () => {
    for (const chunk of [1, 3, 64, 1 << 20]) {
      const report = validate(rftJsonl(20), chunk);
      expect(report).toMatchObject({ valid: true, format: "reinforcement", lines: 20, examples: 20, problems: [] });
      expect(report.itemKeys).toEqual(["answer"]);
    }
  });

  it("accepts supervised lines, a last line without newline, CRLF and trailing blank lines", () => {
    const report = validate(`${sftLine(1)}\r\n${sftLine(2)}\n\n  \n`);
    expect(report).toMatchObject({ valid: true, format: "supervised", examples: 2, lines: 4 });
    expect(validate(`${sftLine(1)}\n${sftLine(2)}`)).toMatchObject({ valid: true, examples: 2, lines: 2 });
  });

  it("accepts developer-last lines, text parts, user image parts and assistant tool calls", () => {
    const lines = [
      {
        messages: [
          { role: "system", content: "s" },
          { role: "developer", content: [{ type: "text", text: "d" }] },
        ],
      },
      {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "q" },
              { type: "image_url", image_url: { url: "https://x/y.png" } },
            ],
          },
        ],
        tools: [],
      },
    ];
    expect(validate(lines.map((l) => JSON.stringify(l)).join("\n"))).toMatchObject({
      valid: true,
      format: "reinforcement",
    });
    const toolCall = {
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", content: "42", tool_call_id: "c" },
        { role: "assistant", content: "42" },
      ],
    };
    expect(validate(JSON.stringify(toolCall))).toMatchObject({ valid: true, format: "supervised" });
  });

  it("rejects an empty file and a file of blank lines", () => {
    expect(validate("").problems).toEqual([{ line: null, message: "the file is empty" }]);
    expect(validate("\n \n").problems).toEqual([
      { line: null, message: "the file has no examples (only blank lines)" },
    ]);
  });

  it("names the line of invalid JSON among 100 000 lines", () => {
    const lines = rftJsonl(100_000).split("\n");
    lines[6] = '{"messages": [';
    const report = validate(lines.join("\n"), 65_536);
    expect(report.valid).toBe(false);
    expect(report.examples).toBe(100_000);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]?.line).toBe(7);
    expect(report.problems[0]?.message).toMatch(/^invalid JSON \(/);
  });

  it("names non-UTF-8 lines, even when the bad bytes straddle chunks", () => {
    const bytes = new Uint8Array([...enc.encode(`${rftLine(1)}\n{"messages": "`), 0xc3, 0x28, ...enc.encode('"}\n')]);
    for (const chunk of [1, 2, 5, 100]) {
      expect(validate(bytes, chunk).problems).toEqual([{ line: 2, message: "not valid UTF-8" }]);
    }
  });

  it("explains each kind of bad line", () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /^expected a JSON object, got an array$/],
      [{ prompt: "x" }, /^missing 'messages'/],
      [{ messages: {} }, /^'messages' must be an array, got an object$/],
      [{ messages: [] }, /^'messages' is empty$/],
      [{ messages: ["hi"] }, /^messages\[0\] must be an object, got a string$/],
      [
        { messages: [{ role: "bot", content: "x" }] },
        /^messages\[0\]\.role must be one of system, developer, user, assistant, tool; got "bot"$/,
      ],
      [
        { messages: [{ role: "user", content: 3 }] },
        /^messages\[0\]\.content must be a string or an array of text parts, got a number$/,
      ],
      [
        { messages: [{ role: "user", content: [{ type: "audio" }] }] },
        /^messages\[0\]\.content\[0\]\.type must be "text"/,
      ],
      [
        { messages: [{ role: "user", content: [{ type: "text", text: 1 }] }] },
        /^messages\[0\]\.content\[0\]\.text must be a string$/,
      ],
      [{ messages: [{ role: "user", content: "q" }], tools: {} }, /^'tools' must be an array/],
      [{ messages: [{ role: "system", content: "s" }] }, /^the last message is from 'system'/],
    ];
    for (const [value, message] of cases) {
      const report = validate(JSON.stringify(value));
      expect(report.problems, JSON.stringify(value)).toHaveLength(1);
      expect(report.problems[0]?.line).toBe(1);
      expect(report.problems[0]?.message).toMatch(message);
    }
  });

  it("rejects a mix of formats at the first line that differs", () => {
    const report = validate(`${rftLine(1)}\n${rftLine(2)}\n${sftLine(3)}\n`);
    expect(report.problems).toEqual([
      {
        line: 3,
        message: "a supervised example, but line 1 is a reinforcement example; all lines must have one format",
      },
    ]);
  });

  it("rejects blank lines before the end, at the first blank line", () => {
    const report = validate(`${rftLine(1)}\n\n\n${rftLine(2)}\n`);
    expect(report.problems).toEqual([
      { line: 2, message: "blank line; blank lines are allowed only at the end of the file" },
    ]);
  });

  it("records the first few problems only, and keeps counting lines", () => {
    const text = Array.from({ length: 50 }, (_, i) => (i % 2 ? "nope" : rftLine(i))).join("\n");
    const report = validate(text, 100);
    expect(report.problems.map((p) => p.line)).toEqual([2, 4, 6, 8, 10]);
    expect(report.lines).toBe(50);
    expect(describeProblems(report.problems)).toMatch(/^line 2: invalid JSON \(.*\); line 4: invalid JSON/);
  });

  it("rejects a 50 MB line with memory staying flat", () => {
    const maxLineBytes = 1 << 20;
    const v = new DatasetValidator({ maxLineBytes });
    v.push(enc.encode(`${rftLine(1)}\n{"messages": [{"role": "user", "content": "`));
    const filler = new Uint8Array(1 << 20).fill(0x61);
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    for (let i = 0; i < 50; i++) {
      v.push(filler);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    v.push(enc.encode(`"}]}\n${rftLine(2)}\n`));
    const report = v.finish();
    expect(report.problems).toEqual([
      { line: 2, message: `longer than ${maxLineBytes} bytes, the limit for one line` },
    ]);
    expect(report.examples).toBe(3);
    // At most one line's worth (1 MiB) is ever held, plus slack; never the 50 MB.
    expect(peak - before).toBeLessThan(8 * (1 << 20));
  });

  it("works as a pass-through TransformStream and on a ReadableStream", async () => {
    const text = rftJsonl(100);
    const { stream, report } = validatingStream({ maxLineBytes: 1024 });
    const out = await new Response(new Blob([text]).stream().pipeThrough(stream)).text();
    expect(out).toBe(text);
    expect(await report).toMatchObject({ valid: true, examples: 100 });
    expect(await validateDataset(new Blob(["x\n"]).stream(), { maxLineBytes: 1024 })).toMatchObject({
      valid: false,
      problems: [{ line: 1 }],
    });
  });
});
