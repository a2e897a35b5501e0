/**
 * Node-only: a `WordNetSource` over a WordNet 3.0 dict folder (Debian's `wordnet-base` installs one at
 * /usr/share/wordnet; NLTK's `wordnet` corpus holds the same files). Opening checks the files exist and reads
 * nothing else; each index file (0.2-4.8 MB) and exception list is read whole on first use, and synset lines are
 * read from the data files (0.5-15 MB) by byte offset, so those never sit in memory.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { POS_FILE, POS_LIST, type Pos, WordNet, type WordNetSource } from "./wordnet.ts";

const REQUIRED = POS_LIST.flatMap((pos) => [`index.${POS_FILE[pos]}`, `data.${POS_FILE[pos]}`, `${POS_FILE[pos]}.exc`]);

/** The folder Debian's `wordnet-base` package installs. */
export const DEFAULT_WORDNET_DIR = "/usr/share/wordnet";

export interface WordNetFiles extends WordNetSource {
  close(): void;
}

/** A source over `dir`; throws naming the first missing file. */
export function wordNetFiles(dir: string): WordNetFiles {
  const missing = REQUIRED.find((file) => !existsSync(join(dir, file)));
  if (missing) throw new Error(`WordNet folder ${dir} has no ${missing}`);
  const indexes: Partial<Record<Pos, Uint8Array>> = {};
  const fds: Partial<Record<Pos, number>> = {};
  let chunk = Buffer.alloc(4096);
  return {
    index(pos) {
      indexes[pos] ??= readFileSync(join(dir, `index.${POS_FILE[pos]}`));
      return indexes[pos];
    },
    exceptions: (pos) => readFileSync(join(dir, `${POS_FILE[pos]}.exc`), "utf8"),
    dataLine(pos, offset) {
      fds[pos] ??= openSync(join(dir, `data.${POS_FILE[pos]}`), "r");
      // Synset lines run to a few kilobytes (long glosses): read until the newline, growing the buffer if needed.
      for (let filled = 0; ; ) {
        const n = readSync(fds[pos], chunk, filled, chunk.length - filled, offset + filled);
        const end = chunk.indexOf(0x0a, filled);
        filled += n;
        if (end >= 0 && end < filled) return chunk.toString("utf8", 0, end);
        if (n === 0) return chunk.toString("utf8", 0, filled);
        if (filled === chunk.length) {
          const bigger = Buffer.alloc(chunk.length * 2);
          chunk.copy(bigger);
          chunk = bigger;
        }
      }
    },
    close() {
      for (const fd of Object.values(fds)) closeSync(fd);
    },
  };
}

/** WordNet from `dir` (a WordNet 3.0 dict folder). */
export function openWordNet(dir: string = DEFAULT_WORDNET_DIR): WordNet {
  return new WordNet(wordNetFiles(dir));
}
