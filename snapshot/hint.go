package snapshot

// Errors that carry a hint
//
// What to do about an error is a field of it, not text pasted into its
// message: the command line and the MCP server render the hint once, after
// the message (the first error of the chain with an ErrorHint method whose
// message does not say it already). CurrentError and Finding carry theirs
// in Hint; WithHint gives any error one.

// Hinted is an error with a hint: Err's message, and Hint, one sentence
// saying what to do.
type Hinted struct {
	Err  error
	Hint string
}

// WithHint returns err with hint as its Hinted.Hint; nil for a nil err.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Hinted{Err: err, Hint: hint}
}

func (e *Hinted) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *Hinted) Unwrap() error { return e.Err }

// ErrorHint returns Hint.
func (e *Hinted) ErrorHint() string { return e.Hint }

// HintOf returns the hint of the first error of err's chain that carries
// one (an ErrorHint method returning non-empty), or "".
func HintOf(err error) string {
	for err != nil {
		if h, ok := err.(interface{ ErrorHint() string }); ok && h.ErrorHint() != "" {
			return h.ErrorHint()
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if h := HintOf(e); h != "" {
					return h
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// corruptMark is an error marked as damage: its message is Err's, and
// errors.Is(e, ErrCorrupt) holds, as pebble's errors.Mark marks one.
type corruptMark struct{ err error }

// MarkCorrupt marks err as damage (errors.Is(err, ErrCorrupt)) without
// adding ErrCorrupt's text to its message.
func MarkCorrupt(err error) error { return &corruptMark{err: err} }

func (e *corruptMark) Error() string { return e.err.Error() }

// Unwrap returns the marked error.
func (e *corruptMark) Unwrap() error { return e.err }

// Is makes errors.Is(e, ErrCorrupt) hold.
func (e *corruptMark) Is(target error) bool { return target == ErrCorrupt }
