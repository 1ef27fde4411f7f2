package servelink

import "bytes"
import "errors"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

// What Announce writes, ReadAnnounce and DashboardLine read back; output
// without the line is ErrNoAnnounce.
func TestAnnounceReadsBack(t *testing.T) {
	var out bytes.Buffer
	if err := Announce(&out, "https://127.0.0.1:8765", "0a1b"); err != nil {
		t.Fatal(err)
	}
	want := "dashboard: https://127.0.0.1:8765/?token=0a1b\nmcp:       https://127.0.0.1:8765/mcp (Authorization: Bearer 0a1b)\n"
	if out.String() != want {
		t.Fatalf("announced %q, want %q", out.String(), want)
	}
	base, token, err := ReadAnnounce(strings.NewReader("time=... level=INFO msg=starting\n" + out.String()))
	if err != nil || base != "https://127.0.0.1:8765" || token != "0a1b" {
		t.Fatalf("read back %q %q %v", base, token, err)
	}
	if _, _, err := ReadAnnounce(strings.NewReader("memsnap: address in use\n")); !errors.Is(err, ErrNoAnnounce) {
		t.Fatalf("no dashboard line: %v, want ErrNoAnnounce", err)
	}
}

// Bearer sends the token with every request and leaves the caller's
// request as it was.
func TestBearerSendsTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: Bearer{Token: "0a1b"}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(resp.Body); err != nil || got.String() != "Bearer 0a1b" || req.Header.Get("Authorization") != "" {
		t.Fatalf("server saw %q (%v); the caller's request holds %q", got.String(), err, req.Header.Get("Authorization"))
	}
}
