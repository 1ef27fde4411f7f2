// Package servelink is what 'memsnap serve' tells whoever started it once
// it listens, and what a client needs to use it: the lines it prints on
// its standard output (Announce), their reading (ReadAnnounce,
// DashboardLine), and the bearer token on every request (Bearer). The
// serve command writes the lines; the benchmark and the black-box tests
// read them, so the format has this one owner.
package servelink

import "bufio"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "regexp"

// DashboardLine matches the first line Announce writes. Its submatches are
// the base URL (scheme, host and port) and the token (hex).
var DashboardLine = regexp.MustCompile(`^dashboard: (https?://[^/\s]+)/\?token=([0-9a-f]+)$`)

// Announce writes the two lines serve prints once it listens: the
// dashboard's link with the token, and the MCP endpoint with the header to
// send. base is the scheme, host and port ("http://127.0.0.1:8765").
func Announce(w io.Writer, base, token string) error {
	_, err := fmt.Fprintf(w, "dashboard: %s/?token=%s\nmcp:       %s/mcp (Authorization: Bearer %s)\n",
		base, url.QueryEscape(token), base, token)
	return err
}

// ErrNoAnnounce is returned by ReadAnnounce when serve's output ended
// before the dashboard line: serve exited without listening.
var ErrNoAnnounce = errors.New("servelink: exited without printing its address")

// ReadAnnounce reads r (serve's standard output) up to the dashboard line
// and returns its base URL and token. It fails with the read's error, or
// ErrNoAnnounce when r ends first. It may read past the line: whatever
// serve prints later is the caller's to drain from r.
func ReadAnnounce(r io.Reader) (base, token string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := DashboardLine.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], m[2], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read serve's address: %w", err)
	}
	return "", "", ErrNoAnnounce
}

// Bearer is an http.RoundTripper that sends Token as serve's bearer token
// with every request, through Next (nil: http.DefaultTransport).
type Bearer struct {
	Token string
	Next  http.RoundTripper
}

// RoundTrip sends a copy of r with the Authorization header set.
func (b Bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.Token)
	next := b.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}
