package queue

import "encoding/json"
import "errors"
import "fmt"
import "path/filepath"

// ErrDamaged is matched (errors.Is) by a *DamagedError.
var ErrDamaged = errors.New("queue: job file is damaged")

// DamagedError is a job file whose bytes are not well-formed JSON. Enqueue
// writes only jobs that decoded (model.DecodeJob), so such a file was
// changed on disk after it was queued (truncated, overwritten): damage,
// not a user's bad input, which is well-formed JSON that breaks a rule of
// the job format and is rejected as an invalid job.
type DamagedError struct {
	Path string // the job file
	Size int    // its length, in bytes
	Err  error  // why it is not JSON (encoding/json's syntax error)
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("damaged job file queue/%s/%s: its %d bytes are not well-formed JSON (%v), which enqueue never writes: it changed on disk after it was queued",
		filepath.Base(filepath.Dir(e.Path)), filepath.Base(e.Path), e.Size, e.Err)
}

// Unwrap makes errors.Is(err, ErrDamaged) hold.
func (e *DamagedError) Unwrap() []error { return []error{ErrDamaged, e.Err} }

// Damaged returns a *DamagedError when data, the bytes of the job file at
// path, are not well-formed JSON, and nil when they are (they may still be
// an invalid job: model.DecodeJob tells).
func Damaged(path string, data []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(data, &v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		err = fmt.Errorf("%s at byte %d", se.Error(), se.Offset)
	}
	return &DamagedError{Path: path, Size: len(data), Err: err}
}
