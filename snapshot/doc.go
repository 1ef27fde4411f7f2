// Package snapshot owns memsnap's on-disk store: its layout, the CURRENT
// pointer, immutable versioned snapshots with checksummed manifests, staging
// (a copy of CURRENT, or a recycled older snapshot brought up to date) and
// atomic publish, reader pins, listing, garbage collection and
// verification (Verify, VerifyFiles, and the Verifier that re-reads only
// what changed), and the store check (Check: the store's invariants, run by
// 'memsnap snapshots verify' and when every test's store is done with:
// package snapshottest, the black-box tests).
//
// Layout (one directory; directories 0700, files 0600):
//
//	LOCK            writer lock (taken by package writer); never deleted
//	CURRENT         seq of the published snapshot as a plain number ("4");
//	                replaced only by rename(2)
//	STORE_ID        the store's id (IDFile), made on its first replicate (EnsureID)
//	queue/{tmp,new,cur,dead}/   the job spool (package queue owns what is inside; Store.Queue)
//	queue/fwd/      a replica cache's forwarded jobs (package queue)
//	snapshots/<seq>/{graph.kuzu, kv/, jobs/, MANIFEST.json, PIN}
//	staging/        the next snapshot under construction (next/, or
//	                recycle-<seq>/ while an old graph is moved in); leftovers are garbage
//	history/<seq>/{MANIFEST.json, jobs/}   what GC leaves of a thinned
//	                snapshot for the history window (history.go);
//	                history/views/ holds points rebuilt for --at reads
//	trash/          GC renames snapshots here before deleting them
//
// <seq> in a directory name is zero-padded to 12 digits (FormatSeq:
// snapshots/000000000004 is the snapshot CURRENT names as 4).
//
// A snapshot's jobs/ holds hard links to the job files of the batch that
// built it, for rollback, for replaying batches onto a recycled graph and
// for rebuilding points of history. Other packages keep their own files
// beside these (serve.token, package web's).
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
