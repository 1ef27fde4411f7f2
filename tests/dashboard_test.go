package tests

import "context"
import "encoding/json"
import "flag"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/chromedp/cdproto/runtime"
import "github.com/chromedp/chromedp"

var dashboardShots = flag.String("dashboard.screenshots", "", "also save the browser tests' screenshots (dashboard*.png) in this directory (make screenshot puts them in docs/)")

// saveShot saves a screenshot (PNG) as name in -dashboard.screenshots, if
// set.
func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	if *dashboardShots == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(*dashboardShots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// browser is a headless Chromium driven by chromedp, for one test.
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex // guards jsErrors
	jsErrors []string
}

// newBrowser starts Chromium (exe) at 1200x900; the test's end stops it.
func newBrowser(t *testing.T, ctx context.Context, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1200, 900),
		// The browser's own temporary files (it leaves a directory in
		// $TMPDIR) go where the test cleans up.
		chromedp.UserDataDir(t.TempDir()), chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	b := &browser{t: t, ctx: bctx}
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			b.mu.Lock()
			b.jsErrors = append(b.jsErrors, e.ExceptionDetails.Text)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// step bounds one step, so that a missing element fails the test with its
// name instead of hanging until go test's timeout.
func (b *browser) step(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

// do runs steps, failing the test with what on an error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := b.step(2 * time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text is the text of the element sel selects.
func (b *browser) text(sel string) string {
	b.t.Helper()
	sctx, cancel := b.step(2 * time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// eval is the value of the JavaScript expression expr.
func (b *browser) eval(expr string) any {
	b.t.Helper()
	sctx, cancel := b.step(time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[any](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot is a PNG of the whole page.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	sctx, cancel := b.step(time.Minute)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// checkErrors fails the test if a page threw a JavaScript exception.
func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.jsErrors) > 0 {
		b.t.Errorf("JavaScript errors: %v", b.jsErrors)
	}
}

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
	job := lovelaceJob()
	mustMemsnap(t, store, job, "enqueue", "--wait=30m")
	srv := startServe(t, ctx, store)

	b := newBrowser(t, ctx, exe)
	do, text, eval := b.do, b.text, b.eval

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
	png := b.screenshot()
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	saveShot(t, "dashboard.png", png)
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
	b.checkErrors()
	t.Logf("screenshot: %s", shot)
}

// lovelaceJob is the job of the browser tests: five people, machines and
// programs around Ada Lovelace, and an entity whose name is markup.
func lovelaceJob() []byte {
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
	return job
}

// thsOnOneLine is JavaScript that lists (joined by "|") the headers of the
// page's tables whose text takes more than one line or overflows its cell,
// and says so when the page itself scrolls sideways: "" when all is well.
const thsOnOneLine = `(() => {
  const bad = [];
  for (const th of document.querySelectorAll("main th")) {
    const r = document.createRange();
    r.selectNodeContents(th);
    const lines = new Set(Array.from(r.getClientRects(), x => Math.round(x.top))).size;
    if (lines > 1 || th.scrollWidth > th.clientWidth) bad.push(th.textContent + " (" + lines + " lines)");
  }
  if (document.documentElement.scrollWidth > window.innerWidth) bad.push("the page scrolls sideways");
  return bad.join("|");
})()`

// Issue 30, done-when 2: in a real headless Chromium, the entities page
// (filtered by type, paged) and the graph view (a neighbourhood, and the
// most connected entities, drawn by cytoscape.js) each find a known
// entity, and every table's headers fit on one line at 1024 and 1280 px.
// Screenshots of both pages go to -dashboard.screenshots.
func TestDashboardBrowseInBrowser(t *testing.T) {
	exe := chromium(t)
	ctx := testContext(t)
	// A long store path, as under a home directory: the snapshots table's
	// rollback commands are wide.
	store := filepath.Join(t.TempDir(), "projects", "a-project-with-a-rather-long-name", "memory-store")
	mustMemsnap(t, store, nil, "init")
	t.Cleanup(func() { checkStore(t, store) })
	mustMemsnap(t, store, lovelaceJob(), "enqueue", "--wait=30m")
	var more []map[string]any
	for i := 0; i < 60; i++ {
		more = append(more, entity(fmt.Sprintf("reader %02d", i), "reader", "read the Notes"))
	}
	job, _ := json.Marshal(ops(entities(more...)))
	mustMemsnap(t, store, job, "enqueue", "--wait=30m")
	bad, _ := json.Marshal(ops(map[string]any{"op": "add_observations", "observations": []any{
		map[string]any{"entityName": "nobody-by-this-name", "contents": []string{"x"}}}}))
	memsnap(t, store, bad, nil, "enqueue", "--wait=30m")
	srv := startServe(t, ctx, store)
	b := newBrowser(t, ctx, exe)
	b.do("open the printed link", chromedp.Navigate(srv.base+"/?token="+srv.token), chromedp.WaitVisible(chromedp.ID("count-entities")))

	// Tables from 1024 px up: no header wraps, the page never scrolls
	// sideways (a wide table scrolls in its own box).
	for _, width := range []int64{1024, 1280} {
		for _, page := range []string{"/snapshots", "/", "/entities", "/queue"} {
			b.do(fmt.Sprintf("open %s at %d px", page, width), chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(srv.base+page), chromedp.WaitVisible(chromedp.CSS("main table")))
			if got := b.eval(thsOnOneLine); got != "" {
				t.Errorf("%s at %d px: headers on more than one line: %v", page, width, got)
			}
		}
	}
	b.do("back to 1200 px", chromedp.EmulateViewport(1200, 900))

	// The entities page: by type, then paged by name.
	b.do("the entities page", chromedp.Navigate(srv.base+"/entities"), chromedp.WaitVisible(chromedp.ID("entities")))
	if got := b.text("#entities"); !strings.Contains(got, "reader 59") {
		t.Errorf("entities page, newest first: %.300q, want reader 59", got)
	}
	b.do("the entities page by name", chromedp.Navigate(srv.base+"/entities?order=name"),
		chromedp.WaitVisible(chromedp.CSS(`#entities a[href="/entity?name=Ada%20Lovelace"]`)))
	saveShot(t, "dashboard-entities.png", b.screenshot())
	b.do("filter by type person", chromedp.SetValue(chromedp.ID("type"), "=person"), chromedp.Submit(chromedp.ID("type")), // a type option's value is "=" and the type
		chromedp.WaitVisible(chromedp.CSS(`#entities a[href="/entity?name=Ada%20Lovelace"]`)))
	if got := b.text("#entities"); strings.Contains(got, "Analytical Engine") || strings.Contains(got, "reader") {
		t.Errorf("persons only: %q", got)
	}
	b.do("by name, type reader", chromedp.Navigate(srv.base+"/entities?type=reader&order=name"), chromedp.WaitVisible(chromedp.ID("next-page")))
	if got := b.text("#entities"); !strings.Contains(got, "reader 00") || strings.Contains(got, "reader 59") {
		t.Errorf("first page by name: %.300q", got)
	}
	b.do("the next page", chromedp.Click(chromedp.ID("next-page")), chromedp.WaitVisible(chromedp.CSS(`#entities a[href="/entity?name=reader%2059"]`)))
	if got := b.text("#entities"); strings.Contains(got, "reader 00") {
		t.Errorf("second page by name repeats the first: %.300q", got)
	}
	hasNode := func(name string) any {
		t.Helper()
		return b.eval(`window.memsnapCy.getElementById(` + strconv.Quote("n:"+name) + `).length`)
	}
	b.do("open an entity from the list", chromedp.Click(chromedp.CSS(`#entities a[href="/entity?name=reader%2059"]`)),
		chromedp.WaitVisible(chromedp.ID("observations")))
	b.do("its graph view", chromedp.Click(chromedp.ID("more-hops")), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="1"] canvas`)))
	if got := hasNode("reader 59"); got != float64(1) {
		t.Errorf("graph view of reader 59: its node drawn %v times, want 1", got)
	}

	// The graph view: from the entity page, then Ada's neighbourhood, two
	// hops, drawn by cytoscape.
	b.do("the graph around Ada", chromedp.Navigate(srv.base+"/graph?name=Ada%20Lovelace&depth=2"),
		chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="1"] canvas`)))
	for _, n := range []string{"Ada Lovelace", "Analytical Engine"} {
		if got := hasNode(n); got != float64(1) {
			t.Errorf("graph around Ada, 2 hops: node %s drawn %v times, want 1", n, got)
		}
	}
	if got := hasNode("reader 00"); got != float64(0) {
		t.Errorf("graph around Ada: reader 00 (not related) drawn")
	}
	b.do("let the graph settle", chromedp.Sleep(500*time.Millisecond))
	saveShot(t, "dashboard-graph.png", b.screenshot())
	b.do("the most connected", chromedp.Navigate(srv.base+"/graph?limit=3"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="1"] canvas`)))
	if n := b.eval(`window.memsnapCy.nodes().length`); n != float64(3) {
		t.Errorf("the 3 most connected: %v nodes drawn", n)
	}
	for _, n := range []string{"Ada Lovelace", "Analytical Engine"} {
		if got := hasNode(n); got != float64(1) {
			t.Errorf("the most connected: %s drawn %v times, want 1", n, got)
		}
	}
	if pwned := b.eval("window.pwned === undefined ? null : window.pwned"); pwned != nil {
		t.Errorf("a hostile entity name ran script: window.pwned = %v", pwned)
	}
	b.checkErrors()
}
