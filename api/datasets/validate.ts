/**
 * Streaming JSONL dataset validation. Bytes go in chunk by chunk; lines are cut on `\n` without ever holding
 * more than `maxLineBytes` of one line, so a 50 MB line costs at most that much memory and is reported, not
 * buffered. Pure (Web APIs only): the same code checks `POST /files` while it streams into the store and a
 * completed upload in the background.
 */
import { checkExample, type DatasetFormat } from "./example.ts";

export type { DatasetFormat } from "./example.ts";

/** One bad line; `line` is 1-based, `null` for problems of the whole file (empty). */
export interface LineProblem {
  line: number | null;
  message: string;
}

export interface DatasetReport {
  valid: boolean;
  /** Format of the examples (all lines share one), `null` when none was valid. */
  format: DatasetFormat | null;
  /** Lines seen, blank ones included. */
  lines: number;
  /** Non-blank lines. */
  examples: number;
  bytes: number;
  /** Keys RFT lines carry besides `messages`/`tools`, available to graders as `item.<key>` (first 100). */
  itemKeys: string[];
  /** The first few problems, in file order. */
  problems: LineProblem[];
}

export interface ValidatorOptions {
  maxLineBytes: number;
  /** How many problems to record before the validator stops parsing (it still counts lines). Default 5. */
  maxProblems?: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const MAX_ITEM_KEYS = 100;

/** Feed it with `push(chunk)`, then call `finish()` once for the report. */
export class DatasetValidator {
  readonly #maxLineBytes: number;
  readonly #maxProblems: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  /** Pieces of the line being read; those kept across `push` calls are copies, so callers may reuse chunks. */
  #pieces: Uint8Array[] = [];
  #pieceBytes = 0;
  /** The current line passed the limit: its bytes are dropped until its newline. */
  #overflow = false;
  #line = 0;
  #examples = 0;
  #bytes = 0;
  /** First blank line of a run of blank lines not yet followed by an example. */
  #pendingBlank: number | null = null;
  #format: { format: DatasetFormat; line: number } | null = null;
  #itemKeys = new Set<string>();
  #problems: LineProblem[] = [];
  #finished: DatasetReport | null = null;

  constructor(options: ValidatorOptions) {
    this.#maxLineBytes = options.maxLineBytes;
    this.#maxProblems = options.maxProblems ?? 5;
  }

  /** True once any problem was found. */
  get failed(): boolean {
    return this.#problems.length > 0;
  }

  get problems(): readonly LineProblem[] {
    return this.#problems;
  }

  push(chunk: Uint8Array): void {
    if (this.#finished) throw new Error("DatasetValidator: push after finish");
    this.#bytes += chunk.byteLength;
    let start = 0;
    while (start < chunk.byteLength) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.byteLength : newline;
      // A line that goes on in the next chunk is copied; one that ends here is only viewed.
      this.#append(chunk, start, end, newline === -1);
      if (newline === -1) break;
      this.#endLine();
      start = newline + 1;
    }
  }

  finish(): DatasetReport {
    if (this.#finished) return this.#finished;
    // A last line without a newline still counts; a file ending in "\n" has no extra empty line.
    if (this.#pieceBytes > 0 || this.#overflow) this.#endLine();
    if (this.#examples === 0) {
      const message = this.#bytes === 0 ? "the file is empty" : "the file has no examples (only blank lines)";
      this.#problems.unshift({ line: null, message });
    }
    this.#finished = {
      valid: this.#problems.length === 0,
      format: this.#format?.format ?? null,
      lines: this.#line,
      examples: this.#examples,
      bytes: this.#bytes,
      itemKeys: [...this.#itemKeys],
      problems: this.#problems.slice(0, this.#maxProblems),
    };
    return this.#finished;
  }

  #append(chunk: Uint8Array, start: number, end: number, copy: boolean): void {
    if (this.#overflow || end === start) return;
    const length = end - start;
    if (this.#pieceBytes + length > this.#maxLineBytes) {
      this.#overflow = true;
      this.#pieces = [];
      this.#pieceBytes = 0;
      return;
    }
    this.#pieces.push(copy ? chunk.slice(start, end) : chunk.subarray(start, end));
    this.#pieceBytes += length;
  }

  #endLine(): void {
    this.#line += 1;
    const line = this.#line;
    const overflow = this.#overflow;
    const bytes = this.#takeLine();
    if (overflow) {
      this.#examples += 1;
      this.#clearBlank();
      this.#problem(line, `longer than ${this.#maxLineBytes} bytes, the limit for one line`);
      return;
    }
    if (this.#saturated()) {
      if (!isBlank(bytes)) this.#examples += 1;
      return;
    }
    let text: string;
    try {
      text = this.#decoder.decode(bytes);
    } catch {
      this.#examples += 1;
      this.#clearBlank();
      this.#problem(line, "not valid UTF-8");
      return;
    }
    if (text.trim() === "") {
      this.#pendingBlank ??= line;
      return;
    }
    this.#examples += 1;
    this.#clearBlank();
    this.#checkLine(line, text);
  }

  #checkLine(line: number, text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.#problem(line, `invalid JSON (${(err as Error).message})`);
      return;
    }
    const check = checkExample(value);
    if (!check.ok) {
      this.#problem(line, check.message);
      return;
    }
    if (!this.#format) {
      this.#format = { format: check.format, line };
    } else if (this.#format.format !== check.format) {
      this.#problem(
        line,
        `a ${check.format} example, but line ${this.#format.line} is a ${this.#format.format} example; all lines must have one format`,
      );
      return;
    }
    for (const key of check.itemKeys) {
      if (this.#itemKeys.size >= MAX_ITEM_KEYS) break;
      this.#itemKeys.add(key);
    }
  }

  /** Blank lines followed by an example are an error at the first of them. */
  #clearBlank(): void {
    if (this.#pendingBlank === null) return;
    const blank = this.#pendingBlank;
    this.#pendingBlank = null;
    this.#problem(blank, "blank line; blank lines are allowed only at the end of the file");
  }

  #takeLine(): Uint8Array {
    const pieces = this.#pieces;
    let bytes: Uint8Array;
    if (pieces.length === 1) {
      bytes = pieces[0] as Uint8Array;
    } else {
      bytes = new Uint8Array(this.#pieceBytes);
      let offset = 0;
      for (const piece of pieces) {
        bytes.set(piece, offset);
        offset += piece.byteLength;
      }
    }
    this.#pieces = [];
    this.#pieceBytes = 0;
    this.#overflow = false;
    if (bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, -1);
    return bytes;
  }

  #saturated(): boolean {
    return this.#problems.length >= this.#maxProblems;
  }

  #problem(line: number, message: string): void {
    // Problems are found in line order except a blank line, reported when the next example shows up.
    if (this.#saturated()) return;
    this.#problems.push({ line, message });
    this.#problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  }
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== CARRIAGE_RETURN) return false;
  return true;
}

/**
 * A pass-through TransformStream that validates what flows through it; `report` settles when the stream ends
 * (an aborted stream leaves it pending). `validator.failed` can be read at any time to stop early.
 */
export function validatingStream(options: ValidatorOptions): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  validator: DatasetValidator;
  report: Promise<DatasetReport>;
} {
  const validator = new DatasetValidator(options);
  let settle!: { resolve: (r: DatasetReport) => void };
  const report = new Promise<DatasetReport>((resolve) => {
    settle = { resolve };
  });
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      validator.push(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      settle.resolve(validator.finish());
    },
  });
  return { stream, validator, report };
}

/** Reads `body` to its end through a validator. */
export async function validateDataset(
  body: ReadableStream<Uint8Array>,
  options: ValidatorOptions,
): Promise<DatasetReport> {
  const validator = new DatasetValidator(options);
  const reader = body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) validator.push(read.value);
  return validator.finish();
}

/** "line 7: invalid JSON (...); line 9: ..." — the first few problems, for error messages and status_details. */
export function describeProblems(problems: readonly LineProblem[]): string {
  return problems.map((p) => (p.line === null ? p.message : `line ${p.line}: ${p.message}`)).join("; ");
}
