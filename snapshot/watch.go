package snapshot

import "path/filepath"

import "github.com/fsnotify/fsnotify"

// WatchCurrent calls onChange, from a goroutine of its own, each time
// CURRENT is replaced (a publish, a rollback, a repair), as inotify (through
// fsnotify) reports it within milliseconds, and also when the watch
// overflows (a change may have been missed). Calls do not overlap. stop
// ends the watch and waits for a call under way. It fails where the store's
// directory cannot be watched; callers then rely on a schedule alone.
func (s *Store) WatchCurrent(onChange func()) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(s.Dir()); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Base(ev.Name) == CurrentFile && (ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write)) {
					onChange()
				}
			case _, ok := <-w.Errors: // an overflow: look anyway
				if !ok {
					return
				}
				onChange()
			}
		}
	}()
	return func() { w.Close(); <-done }, nil
}
