// Package snapshot owns memsnap's on-disk store: its layout, the CURRENT
// pointer, immutable versioned snapshots with checksummed manifests, staging
// (a copy of CURRENT, or a recycled older snapshot brought up to date) and
// atomic publish, reader pins, listing, garbage collection and
// verification (Verify, VerifyFiles, and the Verifier that re-reads only
// what changed), and the store check (Check: the store's invariants, run by
// 'memsnap snapshots verify' and after every black-box test).
//
// Layout (one directory; directories 0700, files 0600):
//
//	LOCK            writer lock (taken by package writer); never deleted
//	CURRENT         seq of the published snapshot; replaced only by rename(2)
//	queue/{tmp,new,cur,dead}/   the job spool (package queue owns what is inside; Store.Queue)
//	snapshots/<seq>/{graph.kuzu, kv/, jobs/, MANIFEST.json, PIN}
//	staging/        the next snapshot under construction (next/, or
//	                recycle-<seq>/ while an old graph is moved in); leftovers are garbage
//	trash/          GC renames snapshots here before deleting them
//
// A snapshot's jobs/ holds hard links to the job files of the batch that
// built it, for rollback and for replaying batches onto a recycled graph.
// Other packages keep their own files beside these (serve.token, package
// web's).
//
// Guarantees: a directory under snapshots/ never changes once renamed into
// place; CURRENT only ever names a complete, fsynced snapshot; GC never
// removes CURRENT, the newest K snapshots, or a snapshot a reader pins.
//
// Caveat: what builds, publishes, moves or removes snapshots (NewStage,
// NewStageWith, NewRollbackStage, Stage.CopyGraph, Stage.Publish,
// WipeStaging, GC, EmptyTrash, Survey, CheckCurrent, RemoveLeftovers,
// PointCurrent) must run under the writer lock; this package does not take
// it.
package snapshot
