package web

import "crypto/rand"
import "crypto/subtle"
import "encoding/hex"
import "errors"
import "fmt"
import "io/fs"
import "net/http"
import "net/url"
import "os"
import "path/filepath"
import "strings"
import "time"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/connguard"
import "github.com/memsnap/memsnap/internal/fsutil"

// TokenFile is the file in the store directory that holds serve's token.
const TokenFile = "serve.token"

// ErrTokenExposed is returned (wrapped) by LoadToken when the token file can
// be read by other users.
var ErrTokenExposed = errors.New("token file is readable by other users")

// LoadToken returns the token in dir/serve.token, creating the file (mode
// 0600, 32 random bytes as 64 hex digits) when there is none. created
// reports that it did. The file appears whole: it is written under another
// name and linked into place, so a serve starting at the same moment reads
// either nothing or the whole token. It refuses a token file that group or
// others may read (ErrTokenExposed), as ssh refuses such a key, and a token
// that is not 16 to 256 of the characters a URL carries unescaped
// (ErrBadToken).
func LoadToken(dir string) (token string, created bool, err error) {
	path := filepath.Join(dir, TokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		token, err = createToken(dir, path)
		if errors.Is(err, fs.ErrExist) { // another serve made it first
			return LoadToken(dir)
		}
		return token, err == nil, err
	}
	if err != nil {
		return "", false, fmt.Errorf("read serve token: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", false, fmt.Errorf("read serve token: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", false, fmt.Errorf("%s has mode %04o: %w (chmod 600 it, or stop every serve on this store and remove it for a new token)", path, info.Mode().Perm(), ErrTokenExposed)
	}
	token = strings.TrimSpace(string(b))
	if !validToken(token) {
		return "", false, fmt.Errorf("%s: %w (stop every serve on this store and remove it for a new token)", path, ErrBadToken)
	}
	return token, false, nil
}

// ErrBadToken is returned (wrapped) by LoadToken for a token file that does
// not hold a usable token.
var ErrBadToken = errors.New("the token is not 16 to 256 letters, digits or -._~")

// validToken: 16 to 256 of URL's unreserved characters, so that a link
// carries it unescaped and a header and a cookie hold it as it is.
func validToken(t string) bool {
	if len(t) < 16 || len(t) > 256 {
		return false
	}
	for _, c := range []byte(t) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// createToken writes a new random token to a temporary file, fsyncs it and
// links it to path; fs.ErrExist when path appeared meanwhile.
func createToken(dir, path string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("make serve token: %w", err)
	}
	token := hex.EncodeToString(raw[:])
	f, err := os.CreateTemp(dir, TokenFile+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("make serve token: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(token + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if err == nil {
		err = fsutil.SyncDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("make serve token: %w", err)
	}
	return token, nil
}

// CookieName is the cookie a browser keeps serve's token in: one name per
// port, as Jupyter does, since browsers send a host's cookies to every port
// of it and two servers on one host would otherwise log each other out.
func CookieName(port string) string { return "memsnap_token_" + port }

// DefaultCookieMaxAge is how long a browser keeps the token cookie when
// Options.CookieMaxAge is 0: 30 days, the serve.cookie_max_age default.
const DefaultCookieMaxAge = 30 * 24 * time.Hour

// tokenCookie is the cookie requireToken gives a browser: its name (one
// per port) and how long the browser keeps it.
type tokenCookie struct {
	name   string
	maxAge time.Duration
}

// set gives the browser the cookie: persistent for maxAge (Max-Age and
// Expires, so that a browser restart keeps it), HttpOnly (no script
// reads it), SameSite=Strict (no other site's page sends it), Secure over
// TLS, for every path of this host and port.
func (c tokenCookie) set(w http.ResponseWriter, r *http.Request, token string) {
	secs := max(1, int(c.maxAge/time.Second))
	http.SetCookie(w, &http.Cookie{Name: c.name, Value: token, Path: "/", MaxAge: secs,
		Expires:  time.Now().Add(time.Duration(secs) * time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// requireToken passes on requests that carry the token: as "Authorization:
// Bearer TOKEN", as the cookie a browser was given, or as ?token=TOKEN, which
// sets the cookie and, for GET, redirects to the same URL without it (so the
// token leaves the address bar and history). Anything else gets 401.
func requireToken(token string, cookie tokenCookie, next http.Handler) http.Handler {
	want := []byte(token)
	match := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A connection that carried the token is kept alive, and dropped
		// last when the server is at its connection cap.
		pass := func() { connguard.Authenticated(w, r); next.ServeHTTP(w, r) }
		if h := r.Header.Get("Authorization"); h != "" {
			// The scheme is case-insensitive (RFC 9110, 11.1).
			if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") && match(strings.TrimSpace(h[7:])) {
				pass()
				return
			}
			unauthorized(w, "the Authorization header does not carry this server's token")
			return
		}
		if q := r.URL.Query(); q.Has("token") {
			if !match(q.Get("token")) {
				unauthorized(w, "the token in the link is not this server's")
				return
			}
			cookie.set(w, r, token)
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				connguard.Authenticated(w, r)
				q.Del("token")
				u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
				http.Redirect(w, r, u.String(), http.StatusSeeOther)
				return
			}
			pass()
			return
		}
		if c, err := r.Cookie(cookie.name); err == nil && match(c.Value) {
			pass()
			return
		}
		unauthorized(w, "no token")
	})
}

// unauthorized answers 401 with one line saying how to authenticate.
func unauthorized(w http.ResponseWriter, why string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="memsnap"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, "401 unauthorized: %s; send Authorization: Bearer TOKEN, or open the link with ?token=TOKEN that 'memsnap serve' printed\n", why)
}
