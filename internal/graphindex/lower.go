package graphindex

import "strings"
import "unicode"
import "unicode/utf8"

// Lower lower-cases s as JavaScript's String.prototype.toLowerCase does,
// which the reference server's search uses (Node 20: ICU 78, Unicode 17):
// each character's simple lower-case mapping, except İ -> i̇ and Σ, which
// is ς at the end of a word (Unicode's Final_Sigma: preceded by a cased
// letter and not followed by one, case-ignorable characters between not
// counting, however many). strings.ToLower maps each rune alone
// ("ΣΊΣΥΦΟΣ" gives "σίσυφοσ" where JavaScript gives "σίσυφος"), and
// golang.org/x/text/cases, used before, looks only so far around a Σ and
// got it wrong near 128-byte boundaries of its input. Go's tables are
// Unicode 15: the letters Unicode 16 and 17 added are in lowerSince16.
// Bytes that are not UTF-8 are kept as they are.
func Lower(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteByte(s[i])
		case r == 'Σ':
			if finalSigma(s, i, n) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		case r == 'İ':
			b.WriteString("i\u0307")
		default:
			b.WriteRune(lowerRune(r))
		}
		i += n
	}
	return b.String()
}

// lowerRune is r's simple lower-case mapping as of Unicode 17.
func lowerRune(r rune) rune {
	switch {
	case r >= 0x10D50 && r <= 0x10D65: // Garay, Unicode 16
		return r + 0x20
	case r >= 0x16EA0 && r <= 0x16EB8: // Beria Erfe, Unicode 17
		return r + 0x1B
	}
	if r >= 0x1C89 && r <= 0xA7DC {
		if l, ok := lowerSince16[r]; ok {
			return l
		}
	}
	return unicode.ToLower(r)
}

// lowerSince16 maps the other capitals Unicode 16 and 17 added to their
// lower case (the whole difference between Go's unicode.ToLower and Node
// 20's toLowerCase, Σ and İ aside, checked over every code point).
var lowerSince16 = map[rune]rune{
	0x1C89: 0x1C8A, 0xA7CB: 0x0264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF,
	0xA7D2: 0xA7D3, 0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB, 0xA7DC: 0x019B,
}

// finalSigma reports whether the Σ at s[i:i+n] ends a word: a cased
// letter before it and none after it, skipping case-ignorable characters
// both ways (a character both cased and case-ignorable, like U+0345,
// counts as case-ignorable, as ICU has it).
func finalSigma(s string, i, n int) bool {
	before := false
	for j := i; j > 0; {
		r, w := utf8.DecodeLastRuneInString(s[:j])
		j -= w
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for j := i + n; j < len(s); {
		r, w := utf8.DecodeRuneInString(s[j:])
		j += w
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

// cased is Unicode's Cased property: upper, lower or title case letters
// and the characters that behave as such.
func cased(r rune) bool {
	if unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase) {
		return true
	}
	_, upper := lowerSince16[r]
	return upper || lowerRune(r) != r || (r >= 0x10D70 && r <= 0x10D85) || (r >= 0x16EBB && r <= 0x16ED3)
}

// caseIgnorable is Unicode's Case_Ignorable property: marks, format
// characters, modifier letters and symbols, and the apostrophes, periods
// and colons that may sit inside a word (Word_Break MidLetter, MidNumLet,
// Single_Quote).
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
