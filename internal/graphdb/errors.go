package graphdb

import "errors"
import "strings"
import "syscall"

// Sentinel errors a Kuzu failure can be classed as; test with errors.Is.
var (
	// ErrNoTable: the statement names a table (or other catalog entry)
	// that does not exist, e.g. a graph written before that table was added.
	ErrNoTable = errors.New("graphdb: no such table")
	// ErrNoIndex: the statement queries an index the table does not have.
	ErrNoIndex = errors.New("graphdb: no such index")
	// ErrNoMemory: an allocation failed (std::bad_alloc), as under a
	// query worker's data limit.
	ErrNoMemory = errors.New("graphdb: out of memory")
	// ErrClosed: the database was closed.
	ErrClosed = errors.New("graphdb: database is closed")
)

// Error is a statement Kuzu refused. Msg is Kuzu's message (first line);
// Kind is the sentinel it was classed as, or nil.
type Error struct {
	Msg  string
	Kind error
}

// Error returns Kuzu's message, after "no space left on device: " when
// that is what it says, in the words every other such failure uses.
func (e *Error) Error() string {
	if e.Kind == syscall.ENOSPC {
		return "no space left on device: " + e.Msg
	}
	return e.Msg
}

// Is reports whether e is of kind target (ErrNoTable, ErrNoIndex,
// syscall.ENOSPC).
func (e *Error) Is(target error) bool { return e.Kind != nil && e.Kind == target }

// kuzuError keeps a Kuzu failure as a value: this is the one place that
// reads Kuzu's message text, so that callers test errors.Is instead.
func kuzuError(err error) error {
	msg := oneLine(err.Error())
	e := &Error{Msg: msg}
	switch {
	case strings.Contains(msg, "doesn't have an index"):
		e.Kind = ErrNoIndex
	case strings.Contains(msg, "does not exist"):
		e.Kind = ErrNoTable
	case strings.Contains(msg, "bad_alloc"):
		e.Kind = ErrNoMemory
	case strings.Contains(msg, "No space left on device"):
		e.Kind = syscall.ENOSPC // an IO exception writing the file or its shadow pages
	}
	return e
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
