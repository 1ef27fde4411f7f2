package model

import "fmt"
import "strings"
import "testing"

// BenchmarkDecodeJob decodes a job of 10 create_entities ops of 10 entities
// with 3 observations each, and one kv_put: the decoder's cost per job.
func BenchmarkDecodeJob(b *testing.B) {
	var ops []string
	for i := range 10 {
		var ents []string
		for j := range 10 {
			ents = append(ents, fmt.Sprintf(`{"name":"entity %d-%d","entityType":"thing","observations":["one","two","three \u00e9"]}`, i, j))
		}
		ops = append(ops, `{"op":"create_entities","entities":[`+strings.Join(ents, ",")+`]}`)
	}
	ops = append(ops, `{"op":"kv_put","key":"k","value":"v"}`)
	data := []byte(`{"ops":[` + strings.Join(ops, ",") + `]}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeJob(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
