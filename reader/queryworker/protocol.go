package queryworker

import "encoding/binary"
import "encoding/json"
import "errors"
import "fmt"
import "io"

// A frame is a 4-byte big-endian length, then that many bytes of JSON.

// maxRequestFrame bounds a request frame: a query (at most
// reader.MaxQueryBytes) and its parameters.
const maxRequestFrame = 16 << 20

// frameOverhead is what an answer frame may hold beyond its rows' bytes
// (columns, error text, fields).
const frameOverhead = 1 << 20

// request is one frame from the parent to a worker: a query to run, or
// (Cancel) the cancellation of the query with the same ID.
type request struct {
	ID        uint64          `json:"id"`
	Cancel    bool            `json:"cancel,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
	Cypher    string          `json:"cypher,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	MaxRows   int             `json:"max_rows,omitempty"`
	MaxBytes  int             `json:"max_bytes,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`
}

// Error kinds a worker's answer can carry.
const (
	kindQuery   = "query"   // Kuzu refused or failed the query
	kindTimeout = "timeout" // interrupted at its timeout
	kindCancel  = "cancel"  // cancelled by the parent
	kindMemory  = "memory"  // an allocation failed under the worker's data limit
	kindOpen    = "open"    // the snapshot could not be opened
)

// response is a worker's answer to request ID.
type response struct {
	ID              uint64          `json:"id"`
	Snapshot        uint64          `json:"snapshot"`
	Columns         []string        `json:"columns,omitempty"`
	Rows            json.RawMessage `json:"rows,omitempty"`
	Truncated       bool            `json:"truncated,omitempty"`
	TruncatedReason string          `json:"truncated_reason,omitempty"`
	Error           string          `json:"error,omitempty"`
	Kind            string          `json:"kind,omitempty"`
	// Ack: the worker has read request ID and hands it to Kuzu; its
	// answer follows. A worker that dies before it acknowledges never
	// took the query (it may run on another worker); one that dies after
	// died of it.
	Ack bool `json:"ack,omitempty"`
}

var errFrameTooLarge = errors.New("frame too large")

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

// readFrame reads one frame of at most limit bytes into v.
func readFrame(r io.Reader, limit int, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(limit) {
		return fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	return json.Unmarshal(b, v)
}
