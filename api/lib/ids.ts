/**
 * Prefixed ids, sortable by creation time: `<prefix><time, 9 base-36 digits><16 random base-62 chars>`.
 * Lexical order is creation order, so cursor pages can compare ids directly.
 * Prefixes follow OpenAI's per kind: `file-`, `upload_`, `part_`, `ftjob-`, `ftevent-`, `ftckpt_`, `cp_`.
 */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The last id's time field: milliseconds × 64 plus a sequence. */
let last = 0;

export function newId(prefix: string, now = Date.now()): string {
  // Same millisecond (a Worker's clock stands still within a request): the next value after the last, so ids
  // made in one ms still sort in creation order; past 64 in one ms the sequence carries into the next ms.
  last = Math.max(now * 64, last + 1);
  const time = last.toString(36).padStart(10, "0");
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  let rand = "";
  for (const b of bytes) rand += ALPHABET[b % 62];
  return `${prefix}${time}${rand}`;
}

export const ID_PREFIX = {
  file: "file-",
  upload: "upload_",
  part: "part_",
  job: "ftjob-",
  event: "ftevent-",
  checkpoint: "ftckpt_",
  checkpointPermission: "cp_",
  project: "proj_",
  apiKey: "key_",
} as const;
