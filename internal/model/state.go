package model

import "time"

// EntityRow is an entity as a snapshot stores it, with its times (UTC).
type EntityRow struct {
	Name         string
	EntityType   string
	Observations []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RelationRow is a relation as a snapshot stores it.
type RelationRow struct {
	From, To, RelationType string
	CreatedAt              time.Time
}

// State is the part of a graph that a list of jobs reads (see
// internal/fsm.Reads): the rows of the entities they name and every
// relation leaving an entity that is the source of a relation they create
// or delete. The writer applies
// a batch on the State of the graph it builds on; a server that
// acknowledges a write before it is applied predicts the writer's answer
// from the State of the newest snapshot it reads.
type State struct {
	Entities  []EntityRow
	Relations []RelationRow
}

// SnapshotState is what one snapshot tells a process that acknowledges
// writes before they apply: the State its next job reads, and the outcomes
// the snapshot records for the jobs the process still waits on.
type SnapshotState struct {
	// Snapshot is the seq it was read from (0: nothing published yet).
	Snapshot uint64
	// Graph holds the rows the jobs read.
	Graph *State
	// Outcomes holds the recorded outcome of each asked job that the
	// snapshot already applied or rejected; jobs it has not seen are absent.
	Outcomes map[string]Outcome
}

// QueuedJob is an acknowledged job waiting in the queue, decoded.
type QueuedJob struct {
	ID  string
	Job *Job
}
