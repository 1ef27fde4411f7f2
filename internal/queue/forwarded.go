package queue

import "errors"
import "fmt"
import "os"
import "sort"
import "strings"

import "github.com/memsnap/memsnap/internal/fsutil"

// fwdDir, in a replica's cache store only, holds the jobs sent on to the
// remote queue (new/ -> fwd/, same name) until a snapshot that holds them
// comes down: reads over queued writes keep answering with them in the
// meantime, so that an acknowledged write never drops out of the answers.
const fwdDir = "fwd"

// FwdDir is the directory of forwarded jobs, for watching; it exists once
// MakeFwdDir or MarkForwarded made it.
func (q *Queue) FwdDir() string { return q.path(fwdDir, "") }

// MakeFwdDir makes fwd/ when it is missing.
func (q *Queue) MakeFwdDir() error {
	if err := os.MkdirAll(q.FwdDir(), fsutil.DirPerm); err != nil {
		return fmt.Errorf("make queue/%s: %w", fwdDir, err)
	}
	return nil
}

// ForwardedPath is job id's file in fwd/.
func (q *Queue) ForwardedPath(id string) string { return q.path(fwdDir, id+Ext) }

// MarkForwarded moves job id from new/ to fwd/ once it is in the remote
// queue, and fsyncs both directories. A job no longer in new/ is no error.
func (q *Queue) MarkForwarded(id string) error {
	if err := q.MakeFwdDir(); err != nil {
		return err
	}
	if err := fsutil.Rename(q.NewPath(id), q.ForwardedPath(id)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("move job %s to queue/%s: %w", id, fwdDir, err)
	}
	if err := q.sync(fwdDir); err != nil {
		return err
	}
	return q.SyncNew()
}

// ForwardedIDs returns the ids of the jobs in fwd/, sorted (by time); none
// when there is no fwd/.
func (q *Queue) ForwardedIDs() ([]string, error) {
	ents, err := os.ReadDir(q.FwdDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list forwarded jobs: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if JobFileName(e.Name()) {
			ids = append(ids, strings.TrimSuffix(e.Name(), Ext))
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// DropForwarded removes job id from fwd/ (a snapshot holding it has come
// down); a job already gone is no error.
func (q *Queue) DropForwarded(id string) error {
	if err := fsutil.Remove(q.ForwardedPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("drop forwarded job %s: %w", id, err)
	}
	return nil
}
