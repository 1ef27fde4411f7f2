package graphindex

import "fmt"
import "math"
import "math/rand/v2"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

// TestMinSpanASCIIIsMinSpanOfTerms checks the word walk that ranks a broad
// search's word hits without building their words against the rule it
// stands for, minSpan over Terms, on random ASCII fields and queries made
// of stop words, one-letter words, words with digits, words that stem
// alike ("runs", "running") and punctuation.
func TestMinSpanASCIIIsMinSpanOfTerms(t *testing.T) {
	vocab := strings.Fields(`the a of and is run runs running ran runner x y 7 2023 ticket123 3.12 go golang
		coffee coffees deadline deadlines meeting met graph graphs kuzu ada lovelace`)
	punct := []string{" ", " ", " ", ", ", ". ", "-", "/", " (", ") ", "'", ":"}
	rng := rand.New(rand.NewPCG(28, 7))
	stems := map[string]string{}
	for _, w := range vocab {
		terms(w, stems, true) // the index learns every indexed word's stem
	}
	for trial := 0; trial < 20000; trial++ {
		var b strings.Builder
		for n := rng.IntN(14); n > 0; n-- {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString(punct[rng.IntN(len(punct))])
		}
		text := strings.ToLower(b.String())
		var q []string
		for n := 1 + rng.IntN(4); n > 0; n-- {
			q = append(q, vocab[rng.IntN(len(vocab))])
		}
		qterms := uniq(Terms(strings.Join(q, " ")))
		if len(qterms) == 0 {
			continue
		}
		want := minSpan(terms(text, stems, false), qterms)
		if got := minSpanASCII(text, qterms, stems); got != want {
			t.Fatalf("text %q, query terms %q: minSpanASCII %d, minSpan of the terms %d", text, qterms, got, want)
		}
	}
}

// TestWordsIsEveryLiveDocumentWithAllTerms checks the word search (the
// shortest posting list walked, the others sought) against a scan of every
// live document: the same documents, ascending, with the BM25 score
// computed from the definition (Lucene's idf, k1 1.2, b 0.75), over
// queries pairing common words with rare ones, on a View with dead
// documents (entities changed and deleted by Apply).
func TestWordsIsEveryLiveDocumentWithAllTerms(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 11))
	common := strings.Fields("topic coffee deploy graph note")
	rare := strings.Fields("zephyr quartz 7 2023 lovelace")
	word := func() string {
		if rng.IntN(10) == 0 {
			return rare[rng.IntN(len(rare))]
		}
		return common[rng.IntN(len(common))]
	}
	var ents []model.Entity
	for i := range 3000 {
		e := model.Entity{Name: fmt.Sprintf("e%d", i), EntityType: "t"}
		for range 1 + rng.IntN(3) {
			e.Observations = append(e.Observations, word()+" "+word()+" "+word())
		}
		ents = append(ents, e)
	}
	v := Build(ents, nil)
	var changed []string
	var current []model.Entity
	for i := 0; i < len(ents); i += 7 {
		changed = append(changed, ents[i].Name)
		if i%2 == 0 { // changed, else deleted
			current = append(current, model.Entity{Name: ents[i].Name, EntityType: "t", Observations: []string{word() + " " + word()}})
		}
	}
	v = v.Apply(changed, current, nil)
	live := map[int32]bool{}
	for id := range v.docs {
		if !v.isDead(int32(id)) {
			live[int32(id)] = true
		}
	}
	for _, q := range []string{"topic zephyr", "zephyr topic", "coffee deploy", "7", "2023 graph note", "quartz lovelace", "topic", "nothing"} {
		qterms := uniq(Terms(q))
		df := map[string]float64{}
		total := 0.0
		for id := range live {
			ts := Terms(v.docs[id].folded())
			total += float64(len(ts))
			for _, qt := range qterms {
				if slices.Contains(ts, qt) {
					df[qt]++
				}
			}
		}
		N, avg := float64(len(live)), total/float64(len(live))
		type hit struct {
			id    int32
			score float64
		}
		var want, got []hit
		for id := int32(0); id < int32(len(v.docs)); id++ {
			if !live[id] {
				continue
			}
			ts := Terms(v.docs[id].folded())
			score, all := 0.0, true
			for _, qt := range qterms {
				tf := 0.0
				for _, w := range ts {
					if w == qt {
						tf++
					}
				}
				if tf == 0 {
					all = false
					break
				}
				idf := math.Log(1 + (N-df[qt]+0.5)/(df[qt]+0.5))
				score += idf * tf * 2.2 / (tf + 1.2*(0.25+0.75*float64(len(ts))/avg))
			}
			if all {
				want = append(want, hit{id, score})
			}
		}
		v.words(q, func(id int32, score float64) { got = append(got, hit{id, score}) })
		if len(got) != len(want) {
			t.Fatalf("%q: words found %d documents, the scan %d", q, len(got), len(want))
		}
		for i := range got {
			if got[i].id != want[i].id || math.Abs(got[i].score-want[i].score) > 1e-9*want[i].score {
				t.Fatalf("%q: hit %d: words %+v, the scan %+v", q, i, got[i], want[i])
			}
		}
	}
}
