package mcpserver

import "encoding/json"
import "strings"
import "testing"

// jsonStringLen is the length encoding/json gives a string, escapes and all.
func TestJSONStringLen(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "\n\r\t\x00\x1f", "<a & b>", "é 日本 🙂", "\u2028\u2029", "bad \xff\xfe utf8", strings.Repeat(`"`, 1000)} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonStringLen(s); got != len(b) {
			t.Errorf("jsonStringLen(%q) = %d, encoding/json gives %d bytes", s, got, len(b))
		}
	}
}
