package tests

import "strings"
import "testing"

// The /entities type dropdown: "every type" is selected when no type is
// asked, and the empty type has a value of its own ("=") that filters on
// it; a type given as is (type=a) still filters.
func TestDashboardEntitiesEmptyType(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	mustMemsnap(t, store, nil, "entities", "create", "--type", "letter", "Alpha")
	mustMemsnap(t, store, nil, "entities", "create", "Untyped")
	srv := startServe(t, ctx, store)
	page := func(path string) string {
		resp, body := srv.get(t, "GET", path, nil, "Authorization", "Bearer "+srv.token)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return body
	}
	all := page("/entities")
	if !strings.Contains(all, `<option value="" selected>every type</option>`) || strings.Contains(all, `selected>(no type)`) {
		t.Errorf("/entities: 'every type' not the one selected:\n%s", all)
	}
	if !strings.Contains(all, `<option value="=">(no type) (1)</option>`) || !strings.Contains(all, "Alpha") || !strings.Contains(all, "Untyped") {
		t.Errorf("/entities: want both entities and the empty type as value \"=\":\n%s", all)
	}
	none := page("/entities?type=%3D")
	if !strings.Contains(none, `<option value="=" selected>(no type) (1)</option>`) || !strings.Contains(none, "Untyped") || strings.Contains(none, ">Alpha<") {
		t.Errorf("/entities?type==: want only Untyped, the empty type selected:\n%s", none)
	}
	for _, path := range []string{"/entities?type=letter", "/entities?type=%3Dletter"} {
		got := page(path)
		if !strings.Contains(got, `<option value="=letter" selected>letter (1)</option>`) || !strings.Contains(got, ">Alpha<") || strings.Contains(got, ">Untyped<") {
			t.Errorf("%s: want only Alpha, letter selected:\n%s", path, got)
		}
	}
}
