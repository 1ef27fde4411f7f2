package model

import "encoding/json"
import "fmt"
import "time"

// Status is what became of a job, as 'memsnap job ID' prints it.
type Status string

// Job outcome statuses.
const (
	// StatusApplied: a published snapshot holds the job's changes.
	StatusApplied Status = "applied"
	// StatusRejected: the job could not be applied (Reason says why); it is
	// in queue/dead and none of its ops took effect.
	StatusRejected Status = "rejected"
	// StatusPending: the job is queued or claimed, not yet in a snapshot.
	StatusPending Status = "pending"
	// StatusUnknown: no queue file and no outcome carry this id.
	StatusUnknown Status = "unknown"
)

// Outcome is what became of a job. Applied and rejected outcomes are stored
// in the snapshot that first contains them; pending and unknown are computed
// by readers from the queue.
type Outcome struct {
	JobID    string    `json:"job_id"`
	Status   Status    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Snapshot uint64    `json:"snapshot,omitempty"`
	At       time.Time `json:"at,omitzero"`
	// Results holds, for an applied job, what each of its ops did, in op order.
	Results []OpResult `json:"results,omitempty"`
	// Rejection is, for a job the memory rules refused, why (Reason is its
	// Error); nil for other rejections and for outcomes stored before it
	// was recorded. Stored (EncodeOutcome) but not printed: 'memsnap job
	// --json' shows the outcome as before.
	Rejection *Rejection `json:"-"`
}

// storedOutcome is an Outcome as the kv store holds it.
type storedOutcome struct {
	Outcome
	Rejection *Rejection `json:"rejection,omitempty"`
}

// OpResult is what one op of an applied job changed, so that callers can
// answer as the reference memory server does (which entities were new, which
// observations were added, how many rows a delete removed).
type OpResult struct {
	// New lists, for create_entities and create_relations, the indexes of the
	// op's items that did not exist before (the others were skipped).
	New []int `json:"new,omitempty"`
	// Added lists, for add_observations, the contents that were new for each
	// item of the op, in item order.
	Added [][]string `json:"added,omitempty"`
	// Deleted counts the entities, observations or relations a delete removed.
	Deleted int `json:"deleted,omitempty"`
	// Missing lists the entity names a delete_entities or delete_observations
	// named that did not exist.
	Missing []string `json:"missing,omitempty"`
}

// EncodeOutcome serialises an outcome for storage (JSON).
func EncodeOutcome(o Outcome) []byte {
	b, _ := json.Marshal(storedOutcome{Outcome: o, Rejection: o.Rejection}) // cannot fail: plain struct
	return b
}

// DecodeOutcome parses a stored outcome.
func DecodeOutcome(b []byte) (Outcome, error) {
	var so storedOutcome
	if err := json.Unmarshal(b, &so); err != nil {
		return Outcome{}, fmt.Errorf("decode job outcome: %w", err)
	}
	so.Outcome.Rejection = so.Rejection
	return so.Outcome, nil
}
