/** How ingest failures (body, size, dataset) become API errors, shared by `POST /files` and upload parts. */
import { ApiError, badRequest } from "../errors.ts";
import { TooLargeError } from "./ingest.ts";
import { MultipartError } from "./multipart.ts";
import { type DatasetReport, describeProblems } from "./validate.ts";

/** Maps a failure of reading or storing an uploaded body; anything unknown is rethrown as is (a 500). */
export function ingestError(err: unknown, fileField: string, expected: string): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof TooLargeError) {
    return badRequest(
      `The '${fileField}' is larger than the limit of ${err.maxBytes} bytes.`,
      fileField,
      "file_too_large",
    );
  }
  if (err instanceof MultipartError) {
    switch (err.kind) {
      case "not_multipart":
        return badRequest(`${err.message}. Send multipart/form-data with ${expected}.`, null, "invalid_multipart");
      case "too_large":
        return badRequest(`${err.message}.`, fileField, "file_too_large");
      case "aborted":
        return badRequest(`${err.message}.`, null, "request_aborted");
      default:
        return badRequest(`Malformed multipart/form-data body: ${err.message}.`, null, "invalid_multipart");
    }
  }
  return err;
}

/** The 400 for a dataset that failed validation: names the first bad lines. */
export function invalidDataset(filename: string, report: DatasetReport): ApiError {
  return badRequest(
    `Invalid fine-tuning file '${filename}': ${describeProblems(report.problems)}.`,
    "file",
    "invalid_file",
  );
}

/** Dataset facts kept on the file row (`stats`), read by job creation. */
export function datasetStats(report: DatasetReport): Record<string, unknown> {
  return {
    format: report.format,
    lines: report.examples,
    examples: report.examples,
    total_lines: report.lines,
    item_keys: report.itemKeys,
  };
}
