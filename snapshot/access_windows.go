//go:build windows

package snapshot

import "os"

// checkOwner checks nothing on Windows: Go's mode bits there show only the
// read-only attribute, and who may write a file is its ACL, which memsnap
// does not read. The store's default home, %LOCALAPPDATA%\memsnap,
// inherits the user profile's ACL (the user, SYSTEM and administrators
// only); checkPath still refuses symlinks and files of the wrong type.
func checkOwner(store, path string, info os.FileInfo, advise bool) error { return nil }
