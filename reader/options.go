package reader

import "time"

import "github.com/memsnap/memsnap/internal/model"

// Options configures a Reader. The command line fills it from the reader.*
// config keys; library users start from DefaultOptions. Every field is used
// as given.
type Options struct {
	// BufferPoolMB is the least page cache Kuzu gets per open snapshot, in
	// MiB; a snapshot opens with four times its graph file if that is more
	// (up to half the machine's memory), never Kuzu's default of 80% of RAM.
	BufferPoolMB int
	// Threads caps the threads of one query.
	Threads int
	// MaxDBMB is the least maximum database size, in MiB, Kuzu opens a
	// snapshot with; four times its graph file if more, rounded up to a
	// power of two (graphdb.MaxDBSize). 0: 1 TiB.
	MaxDBMB int
	// Refresh is the schedule (cron spec, or "@every 2s") on which
	// StartRefresh looks for a newer snapshot; empty: no scheduled refresh.
	Refresh string
	// QueryTimeout interrupts a query that runs longer; 0: no limit.
	QueryTimeout time.Duration
	// WatchCurrent makes StartRefresh also refresh as soon as CURRENT is
	// replaced (file watching), so that a long-lived reader serves a new
	// snapshot within milliseconds of its publication, not only on Refresh.
	WatchCurrent bool
	// Verify is what the reader checks before it serves a snapshot: "full"
	// (every file's size and CRC-32C), "size" (sizes only) or "off".
	Verify string
	// Scrub is how often StartRefresh's background scrub re-reads the whole
	// snapshot being served, at low priority, to find damage done to the
	// disk after its chunks were verified (verification reads only chunks
	// it cannot trust from an earlier check; see snapshot.Verifier). 0: no
	// scrub. It runs only with Verify "full".
	Scrub time.Duration
	// SearchWordHits caps the entities SearchNodes returns that only the
	// word match found (every query word, stemmed, in any order) and the
	// reference server's substring rule did not: the best-ranked that many
	// are kept. Every entity the substring rule finds is always returned.
	// 0: no cap.
	SearchWordHits int
	// Runner, if set, runs Query's user-written Cypher (isolated in a
	// worker process, with its own caps); nil runs it in this process.
	Runner QueryRunner
	// QueuedWrites makes SearchNodes, OpenNodes, ReadGraph (without a time
	// window) and Neighbors answer from the snapshot served plus every
	// acknowledged job in the queue it does not hold, applied by the
	// memory's rules on its search index (see overlay.go): a write is
	// readable once acknowledged, by every process. StartRefresh watches
	// the queue; without it each read looks at the queue itself.
	QueuedWrites bool
	// JobLimits are the job limits (job.*) the writer decodes jobs with:
	// a queued job over them is left out of QueuedWrites' answers, as the
	// writer rejects it.
	JobLimits model.Limits
	// OnSwap, if set, is called with the snapshot's seq each time the
	// Reader starts serving a newer snapshot (whoever wrote it), and how
	// long the swap took (opening and verifying the snapshot and deriving
	// its search index), from the goroutine that refreshed, before that
	// refresh returns. It must not block or call the Reader's Refresh.
	OnSwap func(seq uint64, took time.Duration)
}

// DefaultSearchWordHits is the default of Options.SearchWordHits: as many
// entities as a page of full-text results, so that a query of common words
// answers with the reference's matches and the best 20 others, not with
// every entity that holds them (4,386 of 100,000 for two common words).
const DefaultSearchWordHits = 20

// DefaultOptions returns the defaults, the same as the config's.
func DefaultOptions() Options {
	return Options{BufferPoolMB: 64, MaxDBMB: 1024, Threads: 1, Refresh: "@every 2s", WatchCurrent: true, QueryTimeout: 30 * time.Second, Verify: "full", Scrub: time.Hour,
		SearchWordHits: DefaultSearchWordHits, QueuedWrites: true}
}

// ForPoint is o for a point of history rebuilt for reading (writer.BuildView):
// it is read as it is, without queued writes, refreshes or scrubs, and its
// files are checked by size (they were checksummed as it was built).
func (o Options) ForPoint() Options {
	o.QueuedWrites, o.Refresh, o.WatchCurrent, o.Scrub, o.Verify = false, "", false, 0, "size"
	return o
}
