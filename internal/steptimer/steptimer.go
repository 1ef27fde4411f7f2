// Package steptimer times the steps of one piece of work for a debug log
// line: "commit steps (ms)" claim=1.2 stage=30.5 ..., in the order they ran.
package steptimer

import "time"

// Timer times consecutive steps. Not safe for concurrent use.
type Timer struct {
	last  time.Time
	steps []any // slog attrs: name, ms, name, ms, ...
}

// New starts a Timer: its first step starts now.
func New() *Timer { return &Timer{last: time.Now()} }

// Mark ends the step called name (it started at the last Mark, or New)
// and starts the next.
func (s *Timer) Mark(name string) {
	now := time.Now()
	s.steps = append(s.steps, name, float64(now.Sub(s.last).Microseconds())/1000)
	s.last = now
}

// Attrs returns the steps so far as slog attributes: each step's name and
// its duration in milliseconds (float64, microsecond resolution).
func (s *Timer) Attrs() []any { return s.steps }
