package main

import "bufio"
import "io"
import "strings"
import "testing"

// The warm writer's request reader answers a line too long for the
// protocol as long, then goes on with the next line; a last line without
// a newline still counts.
func TestReadRequest(t *testing.T) {
	in := strings.Repeat("z", 70000) + "\n" + `{"commit":true}` + "\n\n" + `{"commit":true}`
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	type got struct {
		line string
		long bool
	}
	var all []got
	for {
		line, long, err := readRequest(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got{string(line), long})
	}
	want := []got{{"", true}, {`{"commit":true}`, false}, {"", false}, {`{"commit":true}`, false}}
	if len(all) != len(want) {
		t.Fatalf("read %+v, want %+v", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, all[i], want[i])
		}
	}
	if c := clip("ab\u00e9cd", 3); c != "ab..." {
		t.Errorf("clip cut inside a character: %q", c)
	}
}
