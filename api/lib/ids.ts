/**
 * Prefixed ids, sortable by creation time: `<prefix><time, 9 base-36 digits><16 random base-62 chars>`.
 * Lexical order is creation order, so cursor pages can compare ids directly.
 * Prefixes follow OpenAI's per kind: `file-`, `upload_`, `part_`, `ftjob-`, `ftevent-`, `ftckpt_`, `cp_`.
 */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

let lastMs = 0;
let seq = 0;

export function newId(prefix: string, now = Date.now()): string {
  // Same millisecond: bump a sequence into the time field so ids made in one ms still sort in creation order.
  if (now <= lastMs) {
    seq += 1;
    now = lastMs;
  } else {
    lastMs = now;
    seq = 0;
  }
  const time = (now * 64 + (seq % 64)).toString(36).padStart(10, "0");
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
