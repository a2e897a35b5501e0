import { setFileSha256, setFileValidated } from "../../db/queries/files.ts";
import { type CompositeRef, openComposite } from "../../storage/composite.ts";
import { createStreamMeter } from "../../storage/hashing.ts";
import type { AppDeps } from "../deps.ts";
import { datasetStats } from "./ingest-errors.ts";
import { describeProblems, validateDataset } from "./validate.ts";

/**
 * Finishes a file that an upload made, in the background, in one read of its bytes: records its sha256 and, for a
 * `fine-tune` file (`validate`), validates it and moves it from `uploaded` to `processed` or `error`, with
 * `status_details` naming the first bad lines. Records its own failures; never throws.
 */
export async function settleStoredFile(
  deps: Pick<AppDeps, "db" | "store" | "limits">,
  file: CompositeRef & { id: string },
  options: { validate: boolean },
): Promise<void> {
  try {
    const object = await openComposite(deps.store, file);
    if (!object) throw new Error(`the bytes of ${file.id} are missing`);
    const meter = createStreamMeter(file.bytes);
    const body = object.body.pipeThrough(meter.transform);
    if (!options.validate) {
      const reader = body.getReader();
      while (!(await reader.read()).done) {}
      await setFileSha256(deps.db, file.id, meter.result().sha256);
      return;
    }
    const report = await validateDataset(body, { maxLineBytes: deps.limits.maxLineBytes });
    await setFileValidated(deps.db, file.id, {
      status: report.valid ? "processed" : "error",
      statusDetails: report.valid ? null : `Invalid fine-tuning file: ${describeProblems(report.problems)}.`,
      stats: datasetStats(report),
      sha256: meter.result().sha256,
    });
  } catch (err) {
    console.error(`${options.validate ? "validation" : "hashing"} of ${file.id} failed:`, err);
    if (!options.validate) return;
    await setFileValidated(deps.db, file.id, {
      status: "error",
      statusDetails: "The file could not be read for validation; upload it again.",
      stats: null,
    });
  }
}
