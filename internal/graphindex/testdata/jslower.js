// Inputs for TestLowerMatchesJavaScript and their lower case as Node gives it.
let seed = 42;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = a => a[Math.floor(rnd() * a.length)];
const greek = ["Σ", "Σ", "Σ", "Ο", "Δ", "Α", "Β", "Ί", "Υ", "Φ", "ς", "σ", "α"];
const ignorable = [".", "'", ":", "\u0301", "\u0345", "\u00AD", "\u02B0", "^", "\u200D", "\u00B7", "\u2019"];
const cased = ["a", "B", "z", "Q", "é", "Ž", "ǅ", "\u1C89", "\uA7CB", "\u{10D50}", "\u{16EA0}", "İ", "I", "ß", "\u212A", "\u2126", "Ω", "Ж"];
const other = [" ", "1", "-", "😀", "日", "\t", "\n", ",", "ǰ", "\u0130"];
const cases = [];
const add = s => cases.push([s, s.toLowerCase()]);
for (const n of [100, 110, 114, 115, 116, 117, 118, 120, 126, 127, 128, 250, 254, 255, 256]) add("a".repeat(n) + " ΟΔΟΣ");
add("ΑΣ" + ".".repeat(31) + "Β"); add("ΑΣ" + ".".repeat(31)); add(".".repeat(61) + "Σ"); add("Α" + ".".repeat(61) + "Σ");
add("\u0345Σ"); add("Α\u0345Σ"); add("ΟΔΟΣ"); add("Σ"); add("ΑΣ"); add("ΑΣ."); add("ΑΣ.Β"); add("ΣΊΣΥΦΟΣ"); add("Α\u0301Σ\u0301");
add("İstanbul"); add("\u1C89\uA7CB\uA7CC\uA7CE\uA7D2\uA7D4\uA7DA\uA7DC\u{10D50}\u{10D65}\u{16EA0}\u{16EB8}");
for (let i = 0; i < 600; i++) {
  const len = 1 + Math.floor(rnd() * rnd() * 160);
  let s = "";
  for (let k = 0; k < len; k++) {
    const r = rnd();
    s += r < 0.35 ? pick(greek) : r < 0.6 ? pick(ignorable) : r < 0.85 ? pick(cased) : pick(other);
  }
  add(s);
}
require("fs").writeFileSync(process.argv[2], JSON.stringify({
  generator: "Node " + process.version + " (ICU " + process.versions.icu + ", Unicode " + process.versions.unicode + "): String.prototype.toLowerCase",
  cases }, null, 0) + "\n");
