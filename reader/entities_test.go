package reader

import "context"
import "errors"
import "fmt"
import "slices"
import "strings"
import "testing"

// bulkFixture commits n entities (types a and b alternating) and n
// relations in one job, so that all of them share one time, then the
// entities "late 0" to "late 4" one job each.
func bulkFixture(t *testing.T, n int) (*fixture, *Reader) {
	f := newFixture(t)
	var es []Entity
	var rs []Relation
	for i := 0; i < n; i++ {
		es = append(es, Entity{Name: fmt.Sprintf("bulk %04d", i), EntityType: []string{"a", "b"}[i%2], Observations: []string{}})
		rs = append(rs, Relation{From: fmt.Sprintf("bulk %04d", i), To: fmt.Sprintf("bulk %04d", (i+1)%n), RelationType: "next"})
	}
	f.commitJob(t, map[string]any{"ops": []any{createOp(es...), relOp(rs...)}})
	for i := 0; i < 5; i++ {
		f.commitJob(t, map[string]any{"ops": []any{createOp(Entity{Name: fmt.Sprintf("late %d", i), EntityType: "a", Observations: []string{}})}})
	}
	return f, f.open(t)
}

// feedKeys lists a page's items as "e:NAME" and "r:FROM>TO", in its order
// of time (entities and relations of one page merged by time, entities
// first at one time oldest first).
func feedKeys(c *Changes, desc bool) []string {
	var items []feedPos
	for _, e := range c.Entities {
		items = append(items, feedPos{At: e.UpdatedAt, Kind: "e", Key: []string{e.Name}})
	}
	for _, r := range c.Relations {
		items = append(items, feedPos{At: r.CreatedAt, Kind: "r", Key: []string{r.From, r.To, r.RelationType}})
	}
	slices.SortFunc(items, func(a, b feedPos) int {
		if desc {
			return b.compare(a)
		}
		return a.compare(b)
	})
	out := make([]string, len(items))
	for i, p := range items {
		out[i] = p.Kind + ":" + p.Key[0]
		if p.Kind == "r" {
			out[i] += ">" + p.Key[1]
		}
	}
	return out
}

// Issue 30: without a cursor or since, the change feed starts at the
// newest changes whatever shares the bulk import's time, a page holds
// exactly the limit, and paging on (newest first, or oldest first from
// the feed's start) gives every item once, in order.
func TestChangeFeedNewestFirst(t *testing.T) {
	const n = 300
	_, r := bulkFixture(t, n)
	ctx := context.Background()
	first, err := r.RecentChanges(ctx, RecentOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := feedKeys(first, true), []string{"e:late 4", "e:late 3", "e:late 2", "e:late 1", "e:late 0"}; !slices.Equal(got, want) {
		t.Fatalf("the 5 newest: %v, want %v", got, want)
	}
	for _, dir := range []struct {
		name string
		opts RecentOptions
		desc bool
	}{
		{"newest first", RecentOptions{Limit: 7}, true},
		{"oldest first", RecentOptions{Limit: 7, Cursor: FeedAt(first.Entities[0].CreatedAt.AddDate(-1, 0, 0))}, false},
	} {
		var all []string
		short := false // a page held fewer than the limit: it must be the last
		opts := dir.opts
		for pages := 0; ; pages++ {
			if pages > 2*n {
				t.Fatalf("%s: no end after %d pages", dir.name, pages)
			}
			c, err := r.RecentChanges(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			keys := feedKeys(c, dir.desc)
			if short && len(keys) > 0 {
				t.Fatalf("%s: page %d follows a page of fewer than %d items", dir.name, pages, opts.Limit)
			}
			short = len(keys) < opts.Limit
			all = append(all, keys...)
			if c.NextCursor == "" || len(keys) == 0 {
				break
			}
			opts.Cursor = c.NextCursor
		}
		if len(all) != 2*n+5 {
			t.Errorf("%s: %d items, want %d", dir.name, len(all), 2*n+5)
		}
		seen := map[string]bool{}
		for _, k := range all {
			if seen[k] {
				t.Errorf("%s: %s listed twice", dir.name, k)
			}
			seen[k] = true
		}
		newest := all[0]
		if !dir.desc {
			newest = all[len(all)-1]
		}
		if newest != "e:late 4" {
			t.Errorf("%s: the newest change is %s, want e:late 4", dir.name, newest)
		}
	}
}

// Issue 30: the entities page's listing, by name or newest first, filtered
// by type, pages by keyset with every entity once.
func TestListEntities(t *testing.T) {
	const n = 60
	_, r := bulkFixture(t, n)
	ctx := context.Background()
	list := func(opts ListOptions) []string {
		t.Helper()
		var names []string
		for pages := 0; ; pages++ {
			p, err := r.ListEntities(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if pages > n {
				t.Fatalf("no end after %d pages", pages)
			}
			for _, e := range p.Entities {
				if opts.Type != "" && e.EntityType != opts.Type {
					t.Errorf("type %s listed %s of type %s", opts.Type, e.Name, e.EntityType)
				}
				names = append(names, e.Name)
			}
			if p.NextCursor == "" {
				return names
			}
			opts.Cursor = p.NextCursor
		}
	}
	byName := list(ListOptions{Order: ByName, Limit: 7})
	if !slices.IsSorted(byName) || len(slices.Compact(slices.Clone(byName))) != n+5 {
		t.Errorf("by name: %d entities, sorted %v", len(byName), slices.IsSorted(byName))
	}
	newest := list(ListOptions{Type: "a", Limit: 4})
	if len(newest) != n/2+5 || !slices.Equal(newest[:5], []string{"late 4", "late 3", "late 2", "late 1", "late 0"}) {
		t.Errorf("newest of type a: %d entities, first %v", len(newest), newest[:min(5, len(newest))])
	}
	// The bulk entities share one time: by name, descending, after the late ones.
	if rest := newest[5:]; !slices.IsSortedFunc(rest, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("entities of one time not by name descending: %v", rest[:min(6, len(rest))])
	}
	if got := list(ListOptions{Type: "no such type"}); len(got) != 0 {
		t.Errorf("an unknown type lists %v", got)
	}
	p, err := r.ListEntities(ctx, ListOptions{Order: ByName, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListEntities(ctx, ListOptions{Order: Newest, Cursor: p.NextCursor}); !errors.Is(err, ErrBadOption) {
		t.Errorf("a by-name cursor read newest first: %v, want ErrBadOption", err)
	}
	if _, err := r.ListEntities(ctx, ListOptions{Order: "size"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("order size: %v, want ErrBadOption", err)
	}
	types, err := r.EntityTypes(ctx)
	if err != nil || fmt.Sprint(types) != fmt.Sprintf("[{a %d} {b %d}]", n/2+5, n/2) {
		t.Errorf("entity types: %v, %v", types, err)
	}
}

// Issue 30: the graph view's most connected entities, with the relations
// between them.
func TestMostConnected(t *testing.T) {
	f := newFixture(t)
	f.commitJob(t, map[string]any{"ops": []any{
		createOp(Entity{Name: "hub", EntityType: "t", Observations: []string{}}, Entity{Name: "x", EntityType: "t", Observations: []string{}},
			Entity{Name: "y", EntityType: "t", Observations: []string{}}, Entity{Name: "z", EntityType: "t", Observations: []string{}},
			Entity{Name: "alone", EntityType: "t", Observations: []string{}}),
		relOp(Relation{From: "hub", To: "x", RelationType: "r"}, Relation{From: "y", To: "hub", RelationType: "r"},
			Relation{From: "hub", To: "z", RelationType: "r"}, Relation{From: "x", To: "y", RelationType: "r"},
			Relation{From: "hub", To: "hub", RelationType: "self"}),
	}})
	r := f.open(t)
	g, degree, err := r.MostConnected(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(g.Entities)); got != "[hub x y]" {
		t.Errorf("top 3: %s, want [hub x y]", got)
	}
	if degree["hub"] != 4 || degree["x"] != 2 {
		t.Errorf("degrees %v, want hub 4, x 2", degree)
	}
	var rels []string
	for _, rel := range g.Relations {
		rels = append(rels, rel.From+">"+rel.To)
	}
	if fmt.Sprint(rels) != "[hub>hub hub>x x>y y>hub]" {
		t.Errorf("relations among them: %v", rels)
	}
}
