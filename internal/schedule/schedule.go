// Package schedule parses the schedules of the daemon and of readers'
// refreshes: cron specs, descriptors, and "@every DURATION" kept exact
// below a second.
package schedule

import "fmt"
import "strings"
import "time"

import "github.com/robfig/cron/v3"

// Parse parses a schedule spec: a standard cron spec, a descriptor
// such as "@hourly", or "@every DURATION". Unlike cron's own parser, which
// rounds "@every" to whole seconds (so "@every 500ms" would run every second),
// an "@every" duration is kept exactly, down to 10ms; runs are spaced by it
// from when the schedule starts.
func Parse(spec string) (cron.Schedule, error) {
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("bad @every duration: %w", err)
		}
		if d < 10*time.Millisecond {
			return nil, fmt.Errorf("@every %v is below the minimum of 10ms", d)
		}
		return everySchedule(d), nil
	}
	return cron.ParseStandard(spec)
}

// everySchedule runs every d, not rounded to seconds.
type everySchedule time.Duration

// Next implements cron.Schedule.
func (e everySchedule) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
