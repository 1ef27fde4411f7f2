package graphindex

import "strings"

// finder looks for one needle in many texts, as strings.Index does, by
// its rarest byte: a broad search looks for the query in tens of thousands
// of documents, and strings.Index stops at every place of the needle's
// first byte ("t" of "topic 1" stands in most words), while the rare byte
// ("1") stands in few. This is the rare-byte prefilter of the memchr
// crate's substring search (BurntSushi/memchr, src/memmem), with a fixed
// table of how common each byte is in lower-cased text.
type finder struct {
	needle string
	rare   int  // the offset in needle of its rarest byte
	b      byte // that byte
}

// newFinder returns the finder of needle.
func newFinder(needle string) finder {
	f := finder{needle: needle}
	for i := 0; i < len(needle); i++ {
		if byteRank[needle[i]] < byteRank[needle[f.rare]] {
			f.rare = i
		}
	}
	if needle != "" {
		f.b = needle[f.rare]
	}
	return f
}

// index is strings.Index(s, f.needle): the first offset of the needle in
// s, -1 when s does not hold it.
func (f *finder) index(s string) int {
	n := len(f.needle)
	if n <= 1 {
		return strings.Index(s, f.needle)
	}
	// The rare byte of a place starting at j stands at j+f.rare; the last
	// place starts at len(s)-n.
	end := len(s) - n + f.rare + 1
	for i := f.rare; i < end; {
		o := strings.IndexByte(s[i:end], f.b)
		if o < 0 {
			return -1
		}
		j := i + o - f.rare
		if s[j:j+n] == f.needle {
			return j
		}
		i += o + 1
	}
	return -1
}

// byteRank is how common each byte is in lower-cased text, 0 the rarest:
// a text's bytes are ranked by the letters' frequency in English (space
// and the vowels most common), digits and punctuation less common than any
// lower-case letter, upper-case ASCII (never in a lower-cased text) and
// control bytes the rarest, but sep, which stands between every two
// fields of a document's text, as common as space. UTF-8's continuation
// bytes rank as common as a frequent letter: every non-ASCII character has
// one or more.
var byteRank = func() (rank [256]uint8) {
	// Least common first; bytes not listed stay 0.
	order := "ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
		"`~^|\\{}[]<>@#$%&*+=;!?\"'()/" +
		"9876543" + "_:" + "210" + ",-." +
		"zqxjkvbpygfwmucldrhsnioate " + sep
	for i := 0; i < len(order); i++ {
		rank[order[i]] = uint8(i + 1)
	}
	for b := 0x80; b < 0x100; b++ {
		switch {
		case b < 0xc0: // continuation bytes
			rank[b] = rank['m']
		default: // lead bytes
			rank[b] = rank['5']
		}
	}
	return rank
}()
