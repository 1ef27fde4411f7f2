package snapshot

import "crypto/rand"
import "encoding/hex"
import "errors"
import "fmt"
import "os"
import "strings"

import "github.com/memsnap/memsnap/internal/fsutil"

// IDFile, at the top of a store, holds the store's identity: one line, an
// id made once (EnsureID) and never changed, that replication records in
// the remote location so that two stores never publish into one place. A
// store restored or cached from a remote location takes the id of the
// store it copies (AdoptID).
const IDFile = "STORE_ID"

// ErrOtherID is returned by AdoptID when the store already has another
// id: it is a copy of another store.
var ErrOtherID = errors.New("snapshot: the store has another id")

// ID returns the store's id, "" when it has none yet.
func (s *Store) ID() (string, error) {
	b, err := fsutil.ReadFile(s.Path(IDFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the store id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !ValidID(id) {
		return "", fmt.Errorf("%w: %s holds %q, not a store id", ErrCorrupt, s.Path(IDFile), truncate(id, 40))
	}
	return id, nil
}

// EnsureID returns the store's id, making a new random one (128 bits, hex)
// first when it has none. Two processes that race to make it agree on one.
func (s *Store) EnsureID() (string, error) {
	if id, err := s.ID(); err != nil || id != "" {
		return id, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a store id: %w", err)
	}
	id, err := s.AdoptID(hex.EncodeToString(b[:]))
	if errors.Is(err, ErrOtherID) {
		return id, nil // another process made it first
	}
	return id, err
}

// AdoptID records id as the store's id when it has none and returns the
// store's id afterwards; it fails with ErrOtherID when the store has
// another. The file appears whole or not at all (written aside, fsynced,
// then hard-linked into place, which fails when a concurrent call got
// there first: then that call's id stands).
func (s *Store) AdoptID(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("store id %q: not an id", truncate(id, 40))
	}
	have, err := s.ID()
	if err != nil || have == id {
		return have, err
	}
	if have != "" {
		return have, fmt.Errorf("%w: %s is store %s, not %s", ErrOtherID, s.Dir(), have, id)
	}
	tmp := s.Path(IDFile + "." + id + ".tmp")
	_ = os.Remove(tmp)
	f, err := fsutil.CreateExcl(tmp)
	if err != nil {
		return "", fmt.Errorf("record the store id: %w", err)
	}
	defer os.Remove(tmp)
	err = fsutil.Write(f, []byte(id+"\n"))
	if err == nil {
		err = fsutil.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsutil.Link(tmp, s.Path(IDFile))
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("record the store id: %w", err)
	}
	if err := fsutil.SyncDir(s.Dir()); err != nil {
		return "", fmt.Errorf("record the store id: %w", err)
	}
	if have, err = s.ID(); err == nil && have != id {
		return have, fmt.Errorf("%w: %s is store %s, not %s", ErrOtherID, s.Dir(), have, id)
	}
	return have, err
}

// ValidID reports whether id has the form of a store id: 1 to 64 letters,
// digits and dashes.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}
