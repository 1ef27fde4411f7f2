package schedule

import "testing"
import "time"

func TestParseKeepsSubSecondEvery(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)
	for spec, want := range map[string]time.Duration{
		"@every 500ms": 500 * time.Millisecond,
		"@every 2s":    2 * time.Second,
		"@every 1.5s":  1500 * time.Millisecond,
	} {
		s, err := Parse(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if got := s.Next(start).Sub(start); got != want {
			t.Errorf("%s: next run after %v, want %v", spec, got, want)
		}
	}
	if s, err := Parse("*/5 * * * *"); err != nil || s.Next(start).Minute() != 5 {
		t.Errorf("standard spec: %v %v", s, err)
	}
	for _, bad := range []string{"@every 5ms", "@every soon", "every 2s", ""} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
