import { setFileValidated } from "../../db/queries/files.ts";
import { type CompositeRef, openComposite } from "../../storage/composite.ts";
import type { AppDeps } from "../deps.ts";
import { datasetStats } from "./ingest-errors.ts";
import { describeProblems, validateDataset } from "./validate.ts";

/**
 * Validates a stored `fine-tune` file (one an upload made) and moves it from `uploaded` to `processed` or
 * `error`, with `status_details` naming the first bad lines. Runs in the background; records its own failures.
 */
export async function validateStoredFile(
  deps: Pick<AppDeps, "db" | "store" | "limits">,
  file: CompositeRef & { id: string },
): Promise<void> {
  try {
    const object = await openComposite(deps.store, file);
    if (!object) throw new Error(`the bytes of ${file.id} are missing`);
    const report = await validateDataset(object.body, { maxLineBytes: deps.limits.maxLineBytes });
    await setFileValidated(deps.db, file.id, {
      status: report.valid ? "processed" : "error",
      statusDetails: report.valid ? null : `Invalid fine-tuning file: ${describeProblems(report.problems)}.`,
      stats: datasetStats(report),
    });
  } catch (err) {
    console.error(`validation of ${file.id} failed:`, err);
    await setFileValidated(deps.db, file.id, {
      status: "error",
      statusDetails: "The file could not be read for validation; upload it again.",
      stats: null,
    });
  }
}
