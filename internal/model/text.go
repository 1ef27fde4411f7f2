package model

import "errors"
import "fmt"

// ErrUnpairedSurrogate is CheckSurrogates' error (wrapped, with the escape
// and its byte offset): a JSON string holds a surrogate escape (\uD800 to
// \uDFFF) that is not a high one directly followed by a low one. RFC 8259
// allows such an escape in the grammar but it is not Unicode; Go's
// encoding/json reads it as U+FFFD, so "\ud800" and "\udbff" would become
// the same name. Every path that takes a job refuses it instead.
var ErrUnpairedSurrogate = errors.New("a string holds an unpaired surrogate escape (not valid Unicode)")

// CheckSurrogates returns an error wrapping ErrUnpairedSurrogate if one of
// the strings of the JSON text data holds an unpaired surrogate escape, else
// nil. One pass over the bytes, aware of escapes: in \\ud800 the u is not an
// escape. It does not check that data is JSON (in valid JSON a backslash
// only appears in a string).
func CheckSurrogates(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 < len(data) && data[i+1] == 'u' {
			r, ok := hex4(data, i+2)
			switch {
			case ok && r >= 0xD800 && r <= 0xDBFF:
				if lo, ok := hex4(data, i+8); !ok || data[i+6] != '\\' || data[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
					return fmt.Errorf("%w: %s at byte %d", ErrUnpairedSurrogate, data[i:i+6], i)
				}
				i += 11
				continue
			case ok && r >= 0xDC00 && r <= 0xDFFF:
				return fmt.Errorf("%w: %s at byte %d", ErrUnpairedSurrogate, data[i:i+6], i)
			}
		}
		i++ // skip the escaped byte
	}
	return nil
}

// hex4 returns the four hex digits of data at i as a number; ok is false
// when there are not four.
func hex4(data []byte, i int) (r rune, ok bool) {
	if i+4 > len(data) {
		return 0, false
	}
	for _, h := range data[i : i+4] {
		var d byte
		switch {
		case h >= '0' && h <= '9':
			d = h - '0'
		case h >= 'a' && h <= 'f':
			d = h - 'a' + 10
		case h >= 'A' && h <= 'F':
			d = h - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
