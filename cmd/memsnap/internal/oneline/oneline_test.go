package oneline

import "testing"

func TestFold(t *testing.T) {
	got := Fold(" config: a is bad\n  b is\tbad")
	if want := "config: a is bad; b is bad"; got != want {
		t.Errorf("Fold = %q, want %q", got, want)
	}
}
