package tests

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var dashboardShot = flag.String("dashboard.screenshot", "", "also save TestDashboardInBrowser's screenshot to this file (make screenshot puts it in docs/); PNG")

// chromium finds Debian's chromium (make test installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH to drive the dashboard: install Debian's chromium package (make test does)")
	return ""
}

// Issue 15, done-when 3: in a real headless Chromium, the dashboard finds an
// entity by the search box, shows its observations, relations and
// neighbours drawn, and shows a write made by another process without a
// reload (server-sent events). A screenshot goes to the test's temp dir.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	ctx := testContext(t)
	store := newStore(t)
	job, _ := json.Marshal(ops(
		entities(entity("Ada Lovelace", "person", "wrote the first program", "worked with Babbage"),
			entity("Charles Babbage", "person", "designed the Analytical Engine"),
			entity("Analytical Engine", "machine", "never finished"),
			entity("Note G", "program", "computes Bernoulli numbers"), entity("Luigi Menabrea", "person", "wrote on the Analytical Engine in French"),
			entity("</script><script>window.pwned=1</script>", "hostile", "<img src=x onerror=window.pwned=2>")),
		map[string]any{"op": "create_relations", "relations": []any{
			map[string]any{"from": "Ada Lovelace", "to": "Charles Babbage", "relationType": "worked_with"},
			map[string]any{"from": "Charles Babbage", "to": "Analytical Engine", "relationType": "designed"},
			map[string]any{"from": "Ada Lovelace", "to": "Note G", "relationType": "wrote"},
			map[string]any{"from": "Ada Lovelace", "to": "Luigi Menabrea", "relationType": "translated"},
			map[string]any{"from": "Note G", "to": "Analytical Engine", "relationType": "runs_on"},
			map[string]any{"from": "</script><script>window.pwned=1</script>", "to": "Analytical Engine", "relationType": "admires"},
		}}))
	mustMemsnap(t, store, job, "enqueue", "--wait=30m")
	srv := startServe(t, ctx, store)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1200, 900),
		// The browser's own temporary files (it leaves a directory in
		// $TMPDIR) go where the test cleans up.
		chromedp.UserDataDir(t.TempDir()), chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var jsMu sync.Mutex // guards jsErrors
	var jsErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			jsMu.Lock()
			jsErrors = append(jsErrors, e.ExceptionDetails.Text)
			jsMu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Each step is bounded so that a missing element fails the test with
	// its name instead of hanging until go test's timeout.
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(bctx, d) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := step(2 * time.Minute)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := step(2 * time.Minute)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	eval := func(expr string) any {
		t.Helper()
		sctx, cancel := step(time.Minute)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	// The printed link with ?token= logs the browser in and lands on the
	// overview, the token gone from the address.
	do("open the printed link", chromedp.Navigate(srv.base+"/?token="+srv.token), chromedp.WaitVisible(chromedp.ID("count-entities")))
	if loc := eval("location.href").(string); strings.Contains(loc, "token=") {
		t.Errorf("after the link the address is %s; want the token gone", loc)
	}
	if n := text("#count-entities"); n != "6" {
		t.Errorf("the overview counts %q entities, want 6", n)
	}
	if recent := text("main table"); !strings.Contains(recent, "</script><script>window.pwned=1</script>") {
		t.Errorf("recent changes: %q (want the hostile name shown as text)", recent)
	}

	// Search by the box, open the entity.
	ada := chromedp.CSS(`ul.results a[href="/entity?name=Ada%20Lovelace"]`)
	do("search for lovelace", chromedp.SendKeys(chromedp.ID("q"), "lovelace"), chromedp.Submit(chromedp.ID("q")), chromedp.WaitVisible(ada))
	do("open the entity", chromedp.Click(ada), chromedp.WaitVisible(chromedp.ID("observations")))
	if obs := text("#observations"); !strings.Contains(obs, "wrote the first program") || !strings.Contains(obs, "worked with Babbage") {
		t.Errorf("observations shown: %q", obs)
	}
	if out := text("#relations-out"); !strings.Contains(out, "worked_with") || !strings.Contains(out, "Charles Babbage") {
		t.Errorf("relations out shown: %q", out)
	}
	if in := eval(`document.getElementById("relations-in") === null`); in != true {
		t.Errorf("relations in shown before there are any")
	}
	do("the neighbours drawn", chromedp.WaitVisible(chromedp.CSS("#graph canvas")))

	// A write by another process appears without a reload.
	loadedAt := eval("window.memsnapLoadedAt")
	job, _ = json.Marshal(ops(map[string]any{"op": "add_observations", "observations": []any{
		map[string]any{"entityName": "Ada Lovelace", "contents": []string{"arrived without a reload"}}}},
		map[string]any{"op": "create_entities", "entities": []any{entity("Mary Somerville", "person", "introduced Ada to Babbage")}},
		map[string]any{"op": "create_relations", "relations": []any{map[string]any{"from": "Mary Somerville", "to": "Ada Lovelace", "relationType": "mentored"}}}))
	mustMemsnap(t, store, job, "enqueue", "--wait=30m")
	do("see the write appear", chromedp.Poll[chromedp.Void](`document.getElementById("observations").textContent.includes("arrived without a reload") &&
		document.getElementById("relations-in")?.textContent.includes("Mary Somerville")`, chromedp.WithPollingTimeout(90*time.Second)),
		chromedp.WaitVisible(chromedp.CSS("#graph canvas")))
	if after := eval("window.memsnapLoadedAt"); after != loadedAt {
		t.Errorf("the page reloaded (loaded at %v, then %v); want an update in place", loadedAt, after)
	}

	// Screenshot, then the other pages render.
	do("let the graph settle", chromedp.Sleep(500*time.Millisecond))
	sctx, cancel := step(time.Minute)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if *dashboardShot != "" {
		if err := os.WriteFile(*dashboardShot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do("the snapshot timeline", chromedp.Navigate(srv.base+"/snapshots"), chromedp.WaitVisible(chromedp.CSS("main table")))
	if timeline := text("main"); !strings.Contains(timeline, "snapshots rollback 2") || !strings.Contains(timeline, "snapshots restore 2") || !strings.Contains(timeline, "current") {
		t.Errorf("timeline: %q", timeline)
	}
	do("the queue", chromedp.Navigate(srv.base+"/queue"), chromedp.WaitVisible(chromedp.ID("lock")))
	if q := text("#lock"); !strings.Contains(q, "writer lock") {
		t.Errorf("queue page: %q", q)
	}
	if pwned := eval("window.pwned === undefined ? null : window.pwned"); pwned != nil {
		t.Errorf("a hostile entity name ran script: window.pwned = %v", pwned)
	}
	jsMu.Lock()
	if len(jsErrors) > 0 {
		t.Errorf("JavaScript errors: %v", jsErrors)
	}
	jsMu.Unlock()
	t.Logf("screenshot: %s", shot)
}
