// Package snapshot owns memsnap's on-disk store: its layout, the CURRENT
// pointer, immutable versioned snapshots with checksummed manifests, staging
// and atomic publish, reader pins, listing, garbage collection and
// verification.
//
// Layout (one directory; directories 0700, files 0600):
//
//	LOCK            writer lock (see package writer); never deleted
//	CURRENT         seq of the published snapshot; replaced only by rename(2)
//	queue/{tmp,new,cur,dead}/   the job spool (see package writer)
//	snapshots/<seq>/{graph.kuzu, kv/, MANIFEST.json, PIN}
//	staging/        the next snapshot under construction; leftovers are garbage
//	trash/          GC renames snapshots here before deleting them
//
// Guarantees: a directory under snapshots/ never changes once renamed into
// place; CURRENT only ever names a complete, fsynced snapshot; GC never
// removes CURRENT, the newest K snapshots, or a snapshot a reader pins.
//
// Caveat: Stage, Publish, GC, CheckCurrent, RemoveLeftovers and PointCurrent must run under the writer
// lock; this package does not take it.
package snapshot
