/**
 * A WordNet 3.0 reader that does what NLTK's METEOR asks of `nltk.corpus.wordnet` and nothing more:
 * `synsets(word)` over every part of speech, with NLTK's `_morphy` lemmatisation, and each synset's `lemma_names()`.
 * Web-standard: it reads from a `WordNetSource` (the Node loader is `files.node.ts`).
 *
 * Reference: NLTK 3.10 `WordNetCorpusReader` (nltk/corpus/reader/wordnet.py): `synsets`, `_morphy`,
 * `MORPHOLOGICAL_SUBSTITUTIONS`, `_load_lemma_pos_offset_map`, `_load_exception_map`, `_synset_from_pos_and_line`.
 *
 * Nothing is parsed up front. WordNet's index files are sorted byte-wise with one line per lemma (as WordNet's own C
 * library relies on), so a lookup is a binary search over the raw index bytes; a synset's line is read from its data
 * file by byte offset only when a lookup reaches it. Results are memoised per word, in a bounded cache.
 */

/** The parts of speech in the order NLTK's `synsets(word)` tries them (`POS_LIST`). */
export const POS_LIST = ["n", "v", "a", "r"] as const;
export type Pos = (typeof POS_LIST)[number];

/** Where the WordNet files come from: `index.<pos>` bytes, `<pos>.exc` text, and single lines of `data.<pos>`. */
export interface WordNetSource {
  index(pos: Pos): Uint8Array;
  exceptions(pos: Pos): string;
  /** The line of `data.<pos>` that starts at byte `offset`, without its newline. */
  dataLine(pos: Pos, offset: number): string;
}

export interface Synset {
  /** NLTK's `pos()`: the data line's ss_type, so `s` for an adjective satellite. */
  pos: Pos | "s";
  offset: number;
  /** NLTK's `lemma_names()`: the data line's words in order, syntactic markers such as `(a)` removed. */
  lemmaNames: string[];
}

export const POS_FILE: Record<Pos, string> = { n: "noun", v: "verb", a: "adj", r: "adv" };

/** NLTK's `MORPHOLOGICAL_SUBSTITUTIONS`, in its order. */
const SUBSTITUTIONS: Record<Pos, [string, string][]> = {
  n: [
    ["s", ""],
    ["ses", "s"],
    ["ves", "f"],
    ["xes", "x"],
    ["zes", "z"],
    ["ches", "ch"],
    ["shes", "sh"],
    ["men", "man"],
    ["ies", "y"],
  ],
  v: [
    ["s", ""],
    ["ies", "y"],
    ["es", "e"],
    ["es", ""],
    ["ed", "e"],
    ["ed", ""],
    ["ing", "e"],
    ["ing", ""],
  ],
  a: [
    ["er", ""],
    ["est", ""],
    ["er", "e"],
    ["est", "e"],
  ],
  r: [],
};

const NEWLINE = 0x0a;
const SPACE = 0x20;
const CACHE_LIMIT = 50_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `-1`, `0` or `1` as the index line's lemma (its bytes up to the first space) sorts before, equal to or after `key`. */
function compareLemma(buf: Uint8Array, start: number, key: Uint8Array): number {
  for (let k = 0; ; k++) {
    const b = buf[start + k];
    const lineEnded = b === undefined || b === SPACE || b === NEWLINE;
    if (k === key.length) return lineEnded ? 0 : 1;
    if (lineEnded) return -1;
    if (b !== key[k]) return b! < key[k]! ? -1 : 1;
  }
}

/** NLTK's lemma-name parse: `re.match(r"(.*?)(\(.*\))?$", name)` keeps what precedes a trailing `(...)` marker. */
function stripMarker(name: string): string {
  if (!name.endsWith(")")) return name;
  const open = name.indexOf("(");
  return open >= 0 ? name.slice(0, open) : name;
}

export class WordNet {
  readonly #source: WordNetSource;
  #exceptions: Partial<Record<Pos, Map<string, string[]>>> = {};
  #synsetCache = new Map<string, Synset>();
  #synonymCache = new Map<string, ReadonlySet<string>>();

  constructor(source: WordNetSource) {
    this.#source = source;
  }

  /** `wordnet.synsets(word)`: every synset of every part of speech, in NLTK's order (duplicates kept, as NLTK does). */
  synsets(word: string): Synset[] {
    const lemma = word.toLowerCase();
    const out: Synset[] = [];
    for (const pos of POS_LIST) {
      for (const form of this.morphy(lemma, pos)) {
        for (const offset of this.#offsets(form, pos) ?? []) out.push(this.#synset(pos, offset));
      }
    }
    return out;
  }

  /**
   * What METEOR's synonym stage collects for a hypothesis word: every lemma name without `_` of every synset of
   * `word`, plus `word` itself (NLTK's `_enum_wordnetsyn_match`). Memoised.
   */
  synonyms(word: string): ReadonlySet<string> {
    let set = this.#synonymCache.get(word);
    if (set) return set;
    const names = new Set<string>();
    for (const synset of this.synsets(word)) {
      for (const name of synset.lemmaNames) if (!name.includes("_")) names.add(name);
    }
    names.add(word);
    set = names;
    if (this.#synonymCache.size >= CACHE_LIMIT) this.#synonymCache.clear();
    this.#synonymCache.set(word, set);
    return set;
  }

  /**
   * NLTK's `_morphy(form, pos)`: the form itself, then its exception-list bases if it has any, else the forms the
   * detachment rules give (each rule applied once); those WordNet has for `pos`, first occurrence kept.
   */
  morphy(form: string, pos: Pos): string[] {
    const exceptions = this.#exceptionMap(pos).get(form);
    const candidates = [form];
    if (exceptions) candidates.push(...exceptions);
    else {
      for (const [suffix, replacement] of SUBSTITUTIONS[pos]) {
        if (form.endsWith(suffix)) candidates.push(form.slice(0, form.length - suffix.length) + replacement);
      }
    }
    const found: string[] = [];
    for (const candidate of candidates) {
      if (!found.includes(candidate) && this.#offsets(candidate, pos)) found.push(candidate);
    }
    return found;
  }

  /** The synset offsets of `lemma` in `index.<pos>` (NLTK's `_lemma_pos_offset_map[lemma][pos]`), or null. */
  #offsets(lemma: string, pos: Pos): number[] | null {
    if (lemma === "") return null;
    const buf = this.#source.index(pos);
    const key = encoder.encode(lemma);
    let lo = 0;
    let hi = buf.length;
    while (lo < hi) {
      let start = (lo + hi) >>> 1;
      while (start > 0 && buf[start - 1] !== NEWLINE) start--;
      let end = buf.indexOf(NEWLINE, start);
      if (end < 0) end = buf.length;
      // The licence header's lines start with a space: an empty lemma, before every real one.
      const cmp = buf[start] === SPACE ? -1 : compareLemma(buf, start, key);
      if (cmp === 0) return parseIndexLine(decoder.decode(buf.subarray(start, end)));
      if (cmp < 0) lo = end + 1;
      else hi = start;
    }
    return null;
  }

  #synset(pos: Pos, offset: number): Synset {
    const cacheKey = `${pos}${offset}`;
    let synset = this.#synsetCache.get(cacheKey);
    if (synset) return synset;
    const tokens = this.#source.dataLine(pos, offset).split(" ");
    // synset_offset lex_filenum ss_type w_cnt (hex) then w_cnt pairs of word lex_id.
    const count = Number.parseInt(tokens[3]!, 16);
    const lemmaNames: string[] = [];
    for (let i = 0; i < count; i++) lemmaNames.push(stripMarker(tokens[4 + 2 * i]!));
    synset = { pos: tokens[2] as Pos | "s", offset, lemmaNames };
    if (this.#synsetCache.size >= CACHE_LIMIT) this.#synsetCache.clear();
    this.#synsetCache.set(cacheKey, synset);
    return synset;
  }

  #exceptionMap(pos: Pos): Map<string, string[]> {
    let map = this.#exceptions[pos];
    if (map) return map;
    map = new Map();
    // NLTK: `terms = line.split(); exceptions[terms[0]] = terms[1:]` (a repeated form keeps its last line).
    for (const line of this.#source.exceptions(pos).split("\n")) {
      const terms = line.split(/[ \t\r]+/).filter(Boolean);
      if (terms.length > 0) map.set(terms[0]!, terms.slice(1));
    }
    this.#exceptions[pos] = map;
    return map;
  }
}

/** `lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...` → the offsets. */
function parseIndexLine(line: string): number[] {
  const tokens = line.split(" ").filter(Boolean);
  const count = Number(tokens[2]);
  const pointers = Number(tokens[3]);
  const first = 4 + pointers + 2;
  return tokens.slice(first, first + count).map(Number);
}
