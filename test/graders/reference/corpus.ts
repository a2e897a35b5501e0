/**
 * A deterministic corpus of (input, reference) pairs for the text_similarity parity test and the benchmark:
 * empty strings, identical and disjoint texts, unicode (accents, CJK, emoji, Greek, Turkish dotted I, odd
 * whitespace), punctuation and numbers that the BLEU tokenizer treats specially, Porter-stemmer suffixes, and long
 * texts (including needles over 64 characters for rapidfuzz's partial_ratio).
 */

export interface Pair {
  input: string;
  reference: string;
}

const WORDS = (
  "the a of and to in is was he for it with as his on be at by had are but from or have an they which one you were " +
  "running runs ran runner generalization generalize happily happiness relational conditional hopeful hopefulness " +
  "agreed agreement flies dies dying lying skies news inning cannings proceed succeeded feed feeding sky caresses " +
  "ponies ties caress cats troubled sized hopping tanned falling hissing fizzed failing filing happy sky " +
  "electricity electrical formalize triplicate formative goodness callousness digitizer conformabli radically " +
  "differently vileli analogousli vietnamization predication operator feudalism decisiveness hopefulness " +
  "sensitivity sensibility geology theology archaeology reviewal allowance inference airliner gyroscopic " +
  "adjustable defensible irritant replacement adjustment dependent adoption homologou communism activate " +
  "angulariti homologous effective bowdlerize probate rate cease controll roll yyyy quickly fox dog lazy"
).split(" ");

const UNICODE = [
  "café",
  "naïve",
  "Straße",
  "İstanbul",
  "ΟΔΟΣ",
  "σοφός",
  "日本語",
  "中文 文本",
  "😀",
  "👍🏽",
  "a_b",
  "snake_case",
  "Ⅻ",
  "①②",
  "x\u00a0y",
  "tab\there",
  "line\nbreak",
  "\u3000wide",
  "\x1cfs",
  "e\u0301",
  "ǅungla",
  "KELVIN\u212a",
  "ﬁne",
  "𝔘𝔫𝔦",
  "\ufeffbom",
  "ࡰnew",
  "مرحبا",
  "שָׁלוֹם",
];

const PUNCT = [
  "3.14",
  "1,000",
  "2-3",
  "e.g.,",
  "U.S.A.",
  "&amp;",
  "&quot;hi&quot;",
  "<skipped>",
  "don't",
  "(yes)",
  "[no]",
  "{x}",
  "a/b",
  "100%",
  "$5",
  "well-known",
  "end.",
  "why?",
  "wow!",
  "--",
  "...",
  "#tag",
  "@user",
  "x=y+z",
  "~tilde`",
];

/** A seeded PRNG (mulberry32) in [0, 1): the corpora and the parity tests draw from it. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The tokens with one to three small edits (a letter changed, a word dropped, doubled or swapped with its neighbour):
 * word-edit pairs whose `ratio` lands just below, on and just above fuzzy_match's 95.
 */
export function smallEdits(r: () => number, tokens: readonly string[]): string[] {
  const edited = [...tokens];
  for (let e = 1 + Math.floor(r() * 3); e > 0; e--) {
    const i = Math.floor(r() * edited.length);
    const kind = r();
    if (kind < 0.4) edited[i] = `${edited[i]!.slice(0, -1)}${"aeo"[Math.floor(r() * 3)]}`;
    else if (kind < 0.6 && edited.length > 1) edited.splice(i, 1);
    else if (kind < 0.8) edited.splice(i, 0, edited[i]!);
    else if (i + 1 < edited.length) [edited[i], edited[i + 1]] = [edited[i + 1]!, edited[i]!];
  }
  return edited;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function sentence(r: () => number, n: number, pools: readonly (readonly string[])[]): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = pick(r, pick(r, pools));
    const c = r();
    if (c < 0.1) w = w[0]!.toUpperCase() + w.slice(1);
    else if (c < 0.13) w = w.toUpperCase();
    out.push(w);
  }
  const sep = r() < 0.9 ? " " : pick(r, [" ", "  ", "\t", "\n", " \u00a0"]);
  return out.join(sep);
}

function mutate(r: () => number, text: string): string {
  const words = text.split(" ");
  for (let i = 0; i < words.length; i++) {
    const c = r();
    if (c < 0.1) words[i] = pick(r, WORDS);
    else if (c < 0.15) words.splice(i, 1);
    else if (c < 0.2) words.splice(i, 0, pick(r, WORDS));
    else if (c < 0.23 && i + 1 < words.length) [words[i], words[i + 1]] = [words[i + 1]!, words[i]!];
  }
  return words.join(" ");
}

/** `count` pairs, the same for the same seed. */
export function buildCorpus(count = 600, seed = 1234): Pair[] {
  const r = rng(seed);
  const fixed: Pair[] = [
    { input: "", reference: "" },
    { input: "hello", reference: "" },
    { input: "", reference: "hello" },
    { input: "   ", reference: "   " },
    { input: "!!!", reference: "???" },
    { input: "The quick brown fox jumps over the lazy dog", reference: "The quick brown dog jumps on the log." },
    { input: "fuzzy wuzzy was a bear", reference: "fuzzy wuzzy was a bear" },
    { input: "fuzzy wuzzy was a bear", reference: "wuzzy fuzzy was a bear" },
    { input: "new york mets", reference: "new york mets vs atlanta braves" },
    { input: "a", reference: "a a a a a a a a a a a a a a" },
    { input: "ΟΔΟΣ σοφός", reference: "οδος ΣΟΦΟΣ" },
    { input: "İstanbul", reference: "istanbul" },
    { input: "😀😀😀", reference: "😀" },
    { input: "a_b_c", reference: "a b c" },
    { input: "3.14 is pi, 1,000 is a lot", reference: "3.14 is pi , 1,000 is a lot." },
    { input: "the cat sat on the mat", reference: "the the the the the the the" },
    { input: "running runner runs", reference: "run run ran" },
    { input: "yyyy yyy", reference: "yyyy" },
  ];
  const out = [...fixed];
  const pools = [WORDS, WORDS, WORDS, UNICODE, PUNCT];
  while (out.length < count) {
    const kind = r();
    if (kind < 0.45) {
      const ref = sentence(r, 1 + Math.floor(r() * 25), pools);
      out.push({ input: mutate(r, ref), reference: ref });
    } else if (kind < 0.6) {
      out.push({
        input: sentence(r, 1 + Math.floor(r() * 12), pools),
        reference: sentence(r, 1 + Math.floor(r() * 12), pools),
      });
    } else if (kind < 0.72) {
      // Long texts: a few hundred words, lightly mutated.
      const ref = sentence(r, 150 + Math.floor(r() * 350), [WORDS, WORDS, WORDS, WORDS, PUNCT, UNICODE]);
      out.push({ input: mutate(r, ref), reference: ref });
    } else if (kind < 0.84) {
      // A long needle (> 64 characters) inside a longer haystack, for partial_ratio.
      const needle = sentence(r, 12 + Math.floor(r() * 20), [WORDS]);
      const hay = `${sentence(r, 10 + Math.floor(r() * 60), [WORDS])} ${mutate(r, needle)} ${sentence(r, Math.floor(r() * 60), [WORDS])}`;
      out.push(r() < 0.5 ? { input: needle, reference: hay } : { input: hay, reference: needle });
    } else if (kind < 0.92) {
      // Short against long (length ratio above 1.5 and above 8).
      const short = sentence(r, 1 + Math.floor(r() * 3), pools);
      const long = `${sentence(r, 5 + Math.floor(r() * 30), pools)} ${short}`;
      out.push({ input: short, reference: long });
    } else {
      const ref = sentence(r, 1 + Math.floor(r() * 8), [UNICODE, PUNCT]);
      out.push({ input: mutate(r, ref), reference: ref });
    }
  }
  return out;
}

/** The words of the corpus and the stemmer lists, for the Porter parity check. */
export const STEM_WORDS: readonly string[] = [
  ...WORDS,
  ...UNICODE,
  ...PUNCT,
  "ies",
  "ied",
  "ing",
  "eed",
  "bled",
  "spied",
  "died",
  "ss",
  "s",
  "alli",
  "logi",
  "geology",
  "Yyyyy",
];
