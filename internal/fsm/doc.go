// Package fsm is the memory's state machine: the rules of the reference
// memory server's tools (create_entities skips a name that exists,
// relations and observations are added once, a deleted entity takes every
// relation touching it, an op naming a missing entity rejects its job),
// written once, and the content digest that shows when two copies of the
// memory drift apart.
//
// Apply(state, job) runs one job on a State, in the spirit of
// hashicorp/raft's FSM.Apply: the same state and the same job give the same
// result and the same change, with no I/O; a rejected job leaves the state
// as it was. Every op kind has one entry in the table ops: what it reads
// (Reads), what it changes (Changes), how it applies, and how messages
// describe it (Describe). Decoding and checking a job stays in
// internal/model (DecodeJob, whose op kinds, model.OpKinds, the table must
// cover: a test checks it), which the states' callers run first; model
// imports nothing of memsnap, so its decoders cannot live here.
//
// The states it runs over: the writer's overlay (writer/apply.go), whose
// net change the writer then writes to the graph; MemState, the rows read
// from a snapshot, on which the durable acknowledgement predicts the
// writer's answer and import checks what queued jobs leave; and the
// reader's search index as it follows a snapshot's archived jobs, and as
// the queued jobs overlay it for reads (internal/graphindex, View.Overlay).
package fsm
