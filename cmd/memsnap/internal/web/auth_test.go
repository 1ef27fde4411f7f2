package web

import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

// Issue 30: the link's ?token= gives the browser a persistent cookie named
// by the port (Max-Age and Expires for the lifetime asked, 30 days by
// default), HttpOnly, SameSite=Strict, for every path; the cookie then
// opens pages.
func TestTokenCookiePersists(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("page")) })
	for _, tc := range []struct {
		maxAge time.Duration
		want   string
	}{{0, "Max-Age=2592000"}, {48 * time.Hour, "Max-Age=172800"}} {
		cookie := tokenCookie{name: CookieName("8765"), maxAge: tc.maxAge}
		if tc.maxAge == 0 {
			cookie.maxAge = DefaultCookieMaxAge
		}
		h := requireToken(token, cookie, ok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/entities?type=a&token="+token, nil))
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/entities?type=a" {
			t.Fatalf("GET with ?token=: %d to %q, want 303 to /entities?type=a", rec.Code, rec.Header().Get("Location"))
		}
		set := rec.Header().Get("Set-Cookie")
		for _, want := range []string{"memsnap_token_8765=" + token, tc.want, "Expires=", "HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(set, want) {
				t.Errorf("Set-Cookie %q lacks %q", set, want)
			}
		}
		c, err := http.ParseSetCookie(set)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(c.Expires); d < cookie.maxAge-time.Hour || d > cookie.maxAge+time.Minute {
			t.Errorf("Expires %v is %v from now, want about %v", c.Expires, d, cookie.maxAge)
		}
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET with the cookie: %d, want 200", rec.Code)
		}
	}
}
