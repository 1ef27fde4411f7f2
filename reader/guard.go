package reader

import "errors"
import "fmt"
import "strings"
import "unicode"
import "unicode/utf8"

// ErrRefused is returned (wrapped, with the reason) for a query the read path
// will not run: anything that writes, touches files or other databases, or
// holds more than one statement.
var ErrRefused = errors.New("query refused")

// MaxQueryBytes caps the length of a query's text, in bytes. Queries that
// people and tools write are a few hundred bytes (values go in parameters);
// a parse of megabytes of text holds Kuzu's parser (and its memory) for
// seconds, and long flat chains that nest nothing overflow its stack
// (v0.11.3, measured: RETURN {a:1} followed by 9,000 ".a" (18 KB) parses,
// 10,000 (20 KB) is a SIGSEGV; 10,000 "+1" and 12,000 "[1]" crash too).
// 16 KiB keeps every such chain measured below where it crashes; the query
// worker survives the rest.
const MaxQueryBytes = 16 << 10

// MaxNesting caps how deep (, [ and { may nest in a query, counted together.
// Kuzu's parser (v0.11.3) costs much more than linearly in nesting depth,
// and recurses on the C stack: measured on 2 cores, 32 brackets [...] take
// 0.3 s, 64 take 0.4 s, 256 take 27 s; 512 parentheses take 2.9 s, 2000
// take 6 s and 330 MB, and 3000 crash the process (segfault in
// kuzu_connection_prepare). Real queries nest a handful of levels.
const MaxNesting = 32

// MaxCaseNesting caps how deep CASE ... END expressions may nest. Kuzu's
// parser (v0.11.3) takes time exponential in their depth, about doubling
// with each level past 12: measured on 2 cores, the whole `memsnap query`
// of 10 nested CASE WHEN true THEN ... END takes 0.12 s, 14 take 0.3 s,
// 16 take 0.9 s, 18 take 2.9 s (and 20 took 15.8 s, 50 ran into the 30 s
// timeout). Each CASE also counts as one level towards MaxNesting, since
// brackets around nested CASE cost more again: 22 parentheses around 10
// nested CASE take 0.6-0.7 s, 24 around 8 take 0.8 s.
//
// Long chains of relationship patterns, (a)-[]->(b)-[]->..., are not
// capped: their plan is cheap (EXPLAIN of 20 hops: 0.33 s on 300
// entities), their execution is what grows (3 relations each: 8 hops
// 0.14 s, 10 hops 1.7 s), and reader.query_timeout stops it.
const MaxCaseNesting = 10

// refusedKeywords may not appear as keywords (outside strings, comments,
// backquoted names and property/parameter names) in a reader query.
var refusedKeywords = map[string]string{
	"COPY": "COPY reads or writes files", "EXPORT": "EXPORT writes files", "IMPORT": "IMPORT reads files",
	"ATTACH": "ATTACH opens other databases", "DETACH": "DETACH changes attached databases or deletes",
	"INSTALL": "INSTALL fetches extensions", "LOAD": "LOAD reads files or extensions",
	"UNINSTALL": "UNINSTALL changes extensions", "USE": "USE switches databases",
	"CREATE": "the read path cannot write", "MERGE": "the read path cannot write", "SET": "the read path cannot write",
	"DELETE": "the read path cannot write", "REMOVE": "the read path cannot write", "DROP": "the read path cannot write",
	"ALTER": "the read path cannot write", "CHECKPOINT": "the read path cannot write",
	"BEGIN": "transactions are not allowed", "COMMIT": "transactions are not allowed", "ROLLBACK": "transactions are not allowed",
}

// allowedCalls are the table functions a reader may CALL: catalog and index
// lookups that read only the open database.
var allowedCalls = map[string]bool{
	"QUERY_FTS_INDEX": true, "QUERY_VECTOR_INDEX": true, "SHOW_TABLES": true, "TABLE_INFO": true,
	"SHOW_CONNECTION": true, "SHOW_INDEXES": true, "SHOW_FUNCTIONS": true, "DB_VERSION": true,
	"CURRENT_SETTING": true,
}

// fileFunctions read or list files when called as functions.
var fileFunctions = map[string]bool{
	"READ_CSV": true, "READ_PARQUET": true, "READ_JSON": true, "READ_NPY": true, "GLOB": true,
	"READ_TEXT": true, "READ_BLOB": true,
}

// CheckReadOnly refuses a Cypher query that could change anything on disk or
// reach outside the snapshot: COPY ... TO/FROM, EXPORT/IMPORT DATABASE,
// ATTACH, LOAD FROM / LOAD EXTENSION, INSTALL, writes, transactions, CALL of
// anything but read-only catalog/index functions, file-reading functions, and
// more than one statement. It also refuses what would hurt the parser:
// text longer than MaxQueryBytes, brackets and CASE nesting deeper than
// MaxNesting together, and CASE nesting deeper than MaxCaseNesting. It
// reads keywords the way Kuzu's lexer does: case folded, with strings,
// comments and `quoted` names skipped.
func CheckReadOnly(q string) error {
	if len(q) > MaxQueryBytes {
		return fmt.Errorf("%w: the query is %d bytes long, more than the limit of %d", ErrRefused, len(q), MaxQueryBytes)
	}
	toks, err := lex(q)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if len(toks) == 0 {
		return fmt.Errorf("%w: empty query", ErrRefused)
	}
	for i, t := range toks {
		switch {
		case t.kind == tokSemicolon:
			if i != len(toks)-1 {
				return fmt.Errorf("%w: only one statement per query", ErrRefused)
			}
		case t.kind == tokWord:
			if i > 0 && (toks[i-1].kind == tokDot || toks[i-1].kind == tokDollar || toks[i-1].kind == tokColon) {
				continue // property, parameter or label name
			}
			up := strings.ToUpper(t.text)
			if why, bad := refusedKeywords[up]; bad {
				return fmt.Errorf("%w: %s (%s)", ErrRefused, up, why)
			}
			if fileFunctions[up] && i+1 < len(toks) && toks[i+1].kind == tokLParen {
				return fmt.Errorf("%w: %s reads files", ErrRefused, strings.ToLower(up))
			}
			if up == "CALL" {
				if i+1 >= len(toks) || toks[i+1].kind != tokWord || !allowedCalls[strings.ToUpper(toks[i+1].text)] {
					return fmt.Errorf("%w: CALL is limited to %s", ErrRefused, callList())
				}
			}
		}
	}
	return nil
}

func callList() string {
	return "query_fts_index, query_vector_index, show_tables, table_info, show_indexes, show_functions, show_connection, db_version, current_setting"
}

type tokKind int

const (
	tokWord tokKind = iota
	tokDot
	tokDollar
	tokColon
	tokLParen
	tokSemicolon
	tokOther
)

type token struct {
	kind tokKind
	text string
}

// lex splits q into the tokens the guard cares about.
func lex(q string) ([]token, error) {
	var toks []token
	depth := 0 // of ( [ { outside strings, comments and `names`
	cases := 0 // of CASE ... END
	for i := 0; i < len(q); {
		switch q[i] {
		case '(', '[', '{':
			if depth++; depth+cases > MaxNesting {
				return nil, fmt.Errorf("(, [, { and CASE nest deeper than %d levels, the limit", MaxNesting)
			}
		case ')', ']', '}':
			depth = max(depth-1, 0) // ")))(((" must not hide its opens
		}
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(q) && q[i+1] == '/':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("unterminated comment")
			}
			i += end + 4
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(q); j++ {
				if q[j] == '\\' {
					j++
					continue
				}
				if q[j] == c {
					break
				}
			}
			if j >= len(q) {
				return nil, errors.New("unterminated string")
			}
			toks = append(toks, token{kind: tokOther})
			i = j + 1
		case c == '`':
			end := strings.IndexByte(q[i+1:], '`')
			if end < 0 {
				return nil, errors.New("unterminated `name`")
			}
			toks = append(toks, token{kind: tokOther})
			i += end + 2
		case c == 0:
			return nil, errors.New("NUL byte in query")
		case wordLen(q[i:]) > 0:
			j := i
			for n := wordLen(q[j:]); n > 0; n = wordLen(q[j:]) {
				j += n
			}
			if err := countCase(q[i:j], toks, &cases, depth); err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokWord, text: q[i:j]})
			i = j
		case c >= utf8.RuneSelf:
			// Any other non-ASCII character separates words: Kuzu skips
			// Unicode spaces (U+00A0, U+3000, U+2028, ...) and a leading BOM
			// as white space, so "COPY\u00a0(...)" is a COPY statement to it.
			_, n := utf8.DecodeRuneInString(q[i:])
			toks = append(toks, token{kind: tokOther})
			i += n
		default:
			k := tokOther
			switch c {
			case '.':
				k = tokDot
			case '$':
				k = tokDollar
			case ':':
				k = tokColon
			case '(':
				k = tokLParen
			case ';':
				k = tokSemicolon
			}
			toks = append(toks, token{kind: k})
			i++
		}
	}
	return toks, nil
}

// countCase follows the nesting of CASE ... END: word, the word after
// toks, opens one (CASE) or closes one (END), in any case, unless it is a
// property, parameter or label name. depth is the bracket depth.
func countCase(word string, toks []token, cases *int, depth int) error {
	if n := len(toks); n > 0 && (toks[n-1].kind == tokDot || toks[n-1].kind == tokDollar || toks[n-1].kind == tokColon) {
		return nil
	}
	switch {
	case strings.EqualFold(word, "CASE"):
		if *cases++; *cases > MaxCaseNesting {
			return fmt.Errorf("CASE expressions nest deeper than %d levels, the limit", MaxCaseNesting)
		}
		if depth+*cases > MaxNesting {
			return fmt.Errorf("(, [, { and CASE nest deeper than %d levels, the limit", MaxNesting)
		}
	case strings.EqualFold(word, "END"):
		*cases = max(*cases-1, 0)
	}
	return nil
}

// wordLen is the byte length of the word character at the start of s, or 0
// if s does not start with one. ASCII letters, digits and '_' are word
// characters, and so are non-ASCII letters, digits and combining marks (Kuzu
// reads them as part of an identifier, never as a keyword: "ＣＯＰＹ" is a
// syntax error to it). Every other character ends a word.
func wordLen(s string) int {
	if s == "" {
		return 0
	}
	c := s[0]
	if c < utf8.RuneSelf {
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) {
		return n
	}
	return 0
}
