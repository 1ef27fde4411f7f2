package bench

import "testing"

func TestZZWrite(t *testing.T) {
	for _, n := range []int{1000, 100000} {
		if err := writeMCPJSONL("/tmp/zz/mcp-"+map[int]string{1000: "1k", 100000: "100k"}[n]+".jsonl", n); err != nil {
			t.Fatal(err)
		}
	}
}
