package mcpserver

import "bytes"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"

// The encoding a graph answer carries from its fit check is the very
// encoding of the answer as sent: the same bytes as encoding it afresh,
// whole or cut, with suggestions, cursors and notes; the whole answer is
// encoded once (answerOf hands back the kept bytes).
func TestAnswerOfIsTheAnswersEncoding(t *testing.T) {
	cfg := config.Default()
	cfg.MCP.MaxAnswerBytes = config.MinAnswerBytes
	s := &Server{o: Options{Config: cfg}}
	odd := chain(3, 64)
	odd.Entities[1].Observations = append(odd.Entities[1].Observations, "bad \xff utf-8 \u2028 & \t tab")
	withSuggestions := &reader.Graph{Entities: []reader.Entity{}, Relations: []reader.Relation{},
		Suggestions: []reader.Suggestion{{Name: "alpha"}}}
	cases := []struct {
		name     string
		full     *reader.Graph
		limit    int
		wantKept bool
	}{
		{"whole", chain(20, 64), 0, true},
		{"escapes", odd, 0, true},
		{"suggestions", withSuggestions, 0, false},
		{"limit", chain(20, 64), 5, false},
		{"cut", chain(2000, 400), 0, false},
		{"one too large", chain(2, cfg.MCP.MaxAnswerBytes*2), 0, false},
	}
	for _, c := range cases {
		out, err := s.pagedGraph("search_nodes", c.full, "", c.limit, "q")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		structured, text, err := answerOf(out)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wantS, wantT, _ := encodeAnswer(out)
		if !bytes.Equal(structured, wantS) || text != wantT {
			t.Errorf("%s: answerOf differs from the answer encoded afresh:\n%.200s\nwant\n%.200s", c.name, structured, wantS)
		}
		if kept := out.sent != nil; kept != c.wantKept {
			t.Errorf("%s: encoding kept %v, want %v", c.name, kept, c.wantKept)
		}
		if c.wantKept && &structured[0] != &out.sent.Structured[0] {
			t.Errorf("%s: answerOf encoded the answer again", c.name)
		}
	}
}

// rawLen is a lower bound: twice it never passes an answer's size as sent,
// whatever its strings hold (escapes, invalid UTF-8, line separators).
func TestRawLenIsALowerBound(t *testing.T) {
	for _, str := range []string{"", "a", `"\`, "<>&", "\xff\xfe", "\u2028\u2029", "\x01\n\t", "héllo wörld", strings.Repeat("x", 300)} {
		ents := []reader.Entity{{Name: str, EntityType: str, Observations: []string{str, str}}}
		rels := []reader.Relation{{From: str, To: str, RelationType: str}}
		if low, n := 2*rawLen(ents, rels), sizeOf(graphOut{Entities: ents, Relations: rels}); low > n {
			t.Errorf("%q: 2*rawLen %d over the size as sent %d", str, low, n)
		}
	}
}
