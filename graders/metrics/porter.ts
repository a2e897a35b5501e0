/**
 * The Porter stemmer exactly as NLTK 3.10's `PorterStemmer()` (mode NLTK_EXTENSIONS), which NLTK's METEOR uses
 * for its stem-matching stage. Words are handled as arrays of code points, as Python indexes `str`.
 */

const IRREGULAR: Record<string, string> = {
  sky: "sky",
  skies: "sky",
  dying: "die",
  lying: "lie",
  tying: "tie",
  news: "news",
  innings: "inning",
  inning: "inning",
  outings: "outing",
  outing: "outing",
  cannings: "canning",
  canning: "canning",
  howe: "howe",
  proceed: "proceed",
  exceed: "exceed",
  succeed: "succeed",
};

type W = string[];
const VOWELS = new Set(["a", "e", "i", "o", "u"]);

function consonantFlags(w: W): boolean[] {
  const flags: boolean[] = [];
  for (let i = 0; i < w.length; i++) {
    const ch = w[i]!;
    if (VOWELS.has(ch)) flags.push(false);
    else if (ch === "y") flags.push(i === 0 ? true : !flags[i - 1]);
    else flags.push(true);
  }
  return flags;
}

function isConsonant(w: W, i: number): boolean {
  return consonantFlags(w.slice(0, i + 1))[i]!;
}

function measure(stem: W): number {
  const f = consonantFlags(stem);
  let m = 0;
  for (let i = 0; i + 1 < f.length; i++) if (!f[i] && f[i + 1]) m++;
  return m;
}

const positiveMeasure = (stem: W) => measure(stem) > 0;

function containsVowel(stem: W): boolean {
  return consonantFlags(stem).some((c) => !c);
}

function endsDoubleConsonant(w: W): boolean {
  return w.length >= 2 && w[w.length - 1] === w[w.length - 2] && isConsonant(w, w.length - 1);
}

function endsCvc(w: W): boolean {
  const n = w.length;
  if (n >= 3) {
    const f = consonantFlags(w);
    if (f[n - 3] && !f[n - 2] && f[n - 1] && !["w", "x", "y"].includes(w[n - 1]!)) return true;
  }
  if (n === 2) {
    const f = consonantFlags(w);
    return !f[0] && f[1]!;
  }
  return false;
}

function endsWith(w: W, suffix: string): boolean {
  if (suffix.length > w.length) return false;
  for (let i = 0; i < suffix.length; i++) if (w[w.length - suffix.length + i] !== suffix[i]) return false;
  return true;
}

function replaceSuffix(w: W, suffix: string, replacement: string): W {
  return [...w.slice(0, w.length - suffix.length), ...replacement];
}

type Rule = [suffix: string, replacement: string, condition: ((stem: W) => boolean) | null];

function applyRuleList(w: W, rules: Rule[]): W {
  for (const [suffix, replacement, condition] of rules) {
    if (suffix === "*d" && endsDoubleConsonant(w)) {
      const stem = w.slice(0, -2);
      return condition === null || condition(stem) ? [...stem, ...replacement] : w;
    }
    if (endsWith(w, suffix)) {
      const stem = w.slice(0, w.length - suffix.length);
      return condition === null || condition(stem) ? [...stem, ...replacement] : w;
    }
  }
  return w;
}

function step1a(w: W): W {
  if (endsWith(w, "ies") && w.length === 4) return replaceSuffix(w, "ies", "ie");
  return applyRuleList(w, [
    ["sses", "ss", null],
    ["ies", "i", null],
    ["ss", "ss", null],
    ["s", "", null],
  ]);
}

function step1b(w: W): W {
  if (endsWith(w, "ied")) return w.length === 4 ? replaceSuffix(w, "ied", "ie") : replaceSuffix(w, "ied", "i");
  if (endsWith(w, "eed")) {
    const stem = w.slice(0, -3);
    return measure(stem) > 0 ? [...stem, "e", "e"] : w;
  }
  let intermediate: W | null = null;
  for (const suffix of ["ed", "ing"]) {
    if (endsWith(w, suffix)) {
      const candidate = w.slice(0, w.length - suffix.length);
      if (containsVowel(candidate)) {
        intermediate = candidate;
        break;
      }
    }
  }
  if (intermediate === null) return w;
  const last = intermediate[intermediate.length - 1]!;
  return applyRuleList(intermediate, [
    ["at", "ate", null],
    ["bl", "ble", null],
    ["iz", "ize", null],
    ["*d", last, () => !["l", "s", "z"].includes(last)],
    ["", "e", (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

function step1c(w: W): W {
  return applyRuleList(w, [["y", "i", (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);
}

function step2(w: W): W {
  if (endsWith(w, "alli") && positiveMeasure(w.slice(0, -4))) return step2(replaceSuffix(w, "alli", "al"));
  const p = positiveMeasure;
  return applyRuleList(w, [
    ["ational", "ate", p],
    ["tional", "tion", p],
    ["enci", "ence", p],
    ["anci", "ance", p],
    ["izer", "ize", p],
    ["bli", "ble", p],
    ["alli", "al", p],
    ["entli", "ent", p],
    ["eli", "e", p],
    ["ousli", "ous", p],
    ["ization", "ize", p],
    ["ation", "ate", p],
    ["ator", "ate", p],
    ["alism", "al", p],
    ["iveness", "ive", p],
    ["fulness", "ful", p],
    ["ousness", "ous", p],
    ["aliti", "al", p],
    ["iviti", "ive", p],
    ["biliti", "ble", p],
    ["fulli", "ful", p],
    // NLTK keeps the 'l' of 'logi' with the stem, so 'geo'/'theo' work like 'archaeo'.
    ["logi", "log", () => positiveMeasure(w.slice(0, -3))],
  ]);
}

function step3(w: W): W {
  const p = positiveMeasure;
  return applyRuleList(w, [
    ["icate", "ic", p],
    ["ative", "", p],
    ["alize", "al", p],
    ["iciti", "ic", p],
    ["ical", "ic", p],
    ["ful", "", p],
    ["ness", "", p],
  ]);
}

function step4(w: W): W {
  const gt1 = (stem: W) => measure(stem) > 1;
  return applyRuleList(w, [
    ["al", "", gt1],
    ["ance", "", gt1],
    ["ence", "", gt1],
    ["er", "", gt1],
    ["ic", "", gt1],
    ["able", "", gt1],
    ["ible", "", gt1],
    ["ant", "", gt1],
    ["ement", "", gt1],
    ["ment", "", gt1],
    ["ent", "", gt1],
    ["ion", "", (stem) => measure(stem) > 1 && (stem[stem.length - 1] === "s" || stem[stem.length - 1] === "t")],
    ["ou", "", gt1],
    ["ism", "", gt1],
    ["ate", "", gt1],
    ["iti", "", gt1],
    ["ous", "", gt1],
    ["ive", "", gt1],
    ["ize", "", gt1],
  ]);
}

function step5a(w: W): W {
  if (endsWith(w, "e")) {
    const stem = w.slice(0, -1);
    const m = measure(stem);
    if (m > 1) return stem;
    if (m === 1 && !endsCvc(stem)) return stem;
  }
  return w;
}

function step5b(w: W): W {
  return applyRuleList(w, [["ll", "l", () => measure(w.slice(0, -1)) > 1]]);
}

const cache = new Map<string, string>();

/** NLTK's `PorterStemmer().stem(word)` (lowercases first). */
export function porterStem(word: string): string {
  const cached = cache.get(word);
  if (cached !== undefined) return cached;
  const lowered = word.toLowerCase();
  let result: string;
  const irregular = Object.hasOwn(IRREGULAR, lowered) ? IRREGULAR[lowered] : undefined;
  if (irregular !== undefined) result = irregular;
  else if ([...word].length <= 2) result = lowered;
  else {
    let w: W = [...lowered];
    w = step5b(step5a(step4(step3(step2(step1c(step1b(step1a(w))))))));
    result = w.join("");
  }
  if (cache.size > 50_000) cache.clear();
  cache.set(word, result);
  return result;
}
