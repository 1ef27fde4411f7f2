//go:build !memsnap_failpoints

package failpoint

// Hit marks a named crash point; without the memsnap_failpoints build tag it
// does nothing.
func Hit(name string) {}
