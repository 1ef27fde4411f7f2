package main

import "fmt"
import "io"
import "os"
import "time"

import "github.com/schollz/progressbar/v3"
import "golang.org/x/term"

// progress draws a progress bar of total units (schollz/progressbar) on a
// terminal and nothing otherwise.
type progress struct {
	bar   *progressbar.ProgressBar // nil: not a terminal
	total int64
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{total: total}
	if f, ok := w.(*os.File); ok && total > 1 {
		if term.IsTerminal(int(f.Fd())) {
			p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		}
	}
	return p
}

// set moves the bar to n units.
func (p *progress) set(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(min(n, p.total))
	}
}

// done completes the bar.
func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
