package oneline

import "errors"
import "fmt"
import "testing"

import "github.com/memsnap/memsnap/snapshot"

func TestFold(t *testing.T) {
	got := Fold(" config: a is bad\n  b is\tbad")
	if want := "config: a is bad; b is bad"; got != want {
		t.Errorf("Fold = %q, want %q", got, want)
	}
}

// A hint kept as a field is rendered once, after the message, wherever it
// sits in the chain; one the message already says is not repeated.
func TestMessageRendersTheHintOnce(t *testing.T) {
	hinted := snapshot.WithHint(errors.New("snapshot 9 does not exist"), "see 'memsnap snapshots list'")
	bad := errors.New("bad option")
	_, curErr := snapshot.ParseCurrent([]byte("x")) // its message ends with its hint
	for _, tc := range []struct {
		err  error
		want string
	}{
		{hinted, "snapshot 9 does not exist (see 'memsnap snapshots list')"},
		{fmt.Errorf("verify: %w", hinted), "verify: snapshot 9 does not exist (see 'memsnap snapshots list')"},
		{fmt.Errorf("%w: at: %w", bad, hinted), "bad option: at: snapshot 9 does not exist (see 'memsnap snapshots list')"},
		{errors.Join(errors.New("first"), hinted), "first; snapshot 9 does not exist (see 'memsnap snapshots list')"},
		{fmt.Errorf("%w (see 'memsnap snapshots list')", hinted), "snapshot 9 does not exist (see 'memsnap snapshots list')"},
		{curErr, curErr.Error()},
		{errors.New("plain"), "plain"},
	} {
		if got := Message(tc.err); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
