package model

import "fmt"

// RejectCode says why the memory rules refuse a job.
type RejectCode string

// Rejection codes.
const (
	// RejectEntityNotFound: create_relations or add_observations names an
	// entity that does not exist (Rejection.Entity).
	RejectEntityNotFound RejectCode = "entity_not_found"
	// RejectUnknownOp: an op kind no rule knows (a job DecodeJob did not
	// check).
	RejectUnknownOp RejectCode = "unknown_op"
)

// Rejection is a job the memory rules refuse (internal/fsm.Apply): which op
// (its index in the job and its kind), why (Code) and the entity it names.
// None of the job's ops takes effect. Error gives the writer's wording, which
// outcomes and logs record ("op 1 (add_observations): Entity with name X not
// found"); Message gives the reference memory server's, which MCP clients
// see.
type Rejection struct {
	Op     int        `json:"op"`
	OpName string     `json:"opName"`
	Code   RejectCode `json:"code"`
	Entity string     `json:"entity,omitempty"`
}

// Error is the rejection as the writer words it: the op, then Message.
func (r *Rejection) Error() string { return fmt.Sprintf("op %d (%s): %s", r.Op, r.OpName, r.Message()) }

// EntityNotFound is the reference memory server's sentence for a name
// that names no entity, which its clients match: the one place it is
// written (a rejection's Message, a read's reader.NotFoundError).
func EntityNotFound(name string) string { return fmt.Sprintf("Entity with name %s not found", name) }

// Message is the rejection in the reference memory server's words (its
// "Entity with name X not found" is what clients match).
func (r *Rejection) Message() string {
	switch r.Code {
	case RejectEntityNotFound:
		return EntityNotFound(r.Entity)
	case RejectUnknownOp:
		return fmt.Sprintf("unknown op %q", r.OpName)
	}
	return string(r.Code)
}
