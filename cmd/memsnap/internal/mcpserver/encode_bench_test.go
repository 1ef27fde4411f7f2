package mcpserver

import "fmt"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"

// searchGraph is a search answer of n entities, each with two observations
// of about obsBytes (with a quote and a < to escape) and a relation to the
// next one.
func searchGraph(n, obsBytes int) *reader.Graph {
	obs := strings.Repeat("word ", obsBytes/5-4) + `"q" <`
	return chainOf(n, "relates_to", func(i int) reader.Entity {
		return reader.Entity{Name: fmt.Sprintf("entity-%06d", i), EntityType: "concept",
			Observations: []string{obs + fmt.Sprint(i), fmt.Sprint(i) + obs}}
	})
}

// benchSearchAnswer times what a search_nodes call does to its answer
// once the reader has it: choose the part that fits mcp.max_answer_bytes
// (set to 4 MiB here) (pagedGraph) and encode it as the structured and
// text content (answerOf).
func benchSearchAnswer(b *testing.B, full *reader.Graph) {
	cfg := config.Default()
	cfg.MCP.MaxAnswerBytes = 4 << 20
	s := &Server{o: Options{Config: cfg}}
	out, _ := s.pagedGraph("search_nodes", full, "", 0, "q")
	structured, text, err := answerOf(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := s.pagedGraph("search_nodes", full, "", 0, "q")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := answerOf(out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sentSize(structured, text))/(1<<20), "MiB/answer")
}

// A broad search at 10k entities: about 2 MiB as sent, under the 4 MiB
// cap, so the whole answer goes.
func BenchmarkSearchAnswer2MiB(b *testing.B) { benchSearchAnswer(b, searchGraph(2000, 160)) }

// A broad search at 100k entities: far over the cap, cut to the part that
// fits.
func BenchmarkSearchAnswerCut(b *testing.B) { benchSearchAnswer(b, searchGraph(40000, 160)) }
