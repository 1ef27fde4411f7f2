package main

import "bufio"
import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "unicode/utf8"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// How import reads a reference memory file
//
// The reference memory server's JSONL file holds one {"type": "entity" |
// "relation", ...} object per line. Files written by hand, by older servers
// or by other tools are often imperfect; import keeps every record it can:
//
//   - repaired (and reported): an entity without observations (or with
//     null) gets [], observations that are not strings are dropped, an
//     observation over job.max_string_bytes is dropped (the entity and its
//     relations are kept), an entity without entityType gets "", unknown
//     fields are ignored;
//   - skipped (and reported with the line number and the reason): a line
//     that is not one JSON object, a record of another type, an entity
//     without a name, an entity already on an earlier line (the first
//     wins, as create_entities keeps the existing entity), a relation
//     without from, to or relationType, a relation to an entity in
//     neither the file nor the store nor a queued job (or to an entity
//     skipped on its line, which the report names), a line that is not
//     UTF-8, a line over job.max_bytes, a name or type over
//     job.max_string_bytes;
//   - merged (and reported when the type differs): an entity the store
//     holds gets the file's new observations (importmerge.go);
//   - blank lines, a UTF-8 byte order mark and CRLF line ends are no
//     problem at all.
//
// With --strict the first problem refuses the file before anything is
// queued.

// memoryProblem is a line import repaired, skipped or merged with a
// difference, and why.
type memoryProblem struct {
	Line    int
	Skipped bool
	Merged  bool // an entity merged into the store's, with a difference kept
	Reason  string
}

func (p memoryProblem) String() string {
	what := "repaired"
	switch {
	case p.Skipped:
		what = "skipped"
	case p.Merged:
		what = "merged"
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, what, p.Reason)
}

// memoryRecord is one line's entity or relation (the other is nil), with
// what was repaired in it.
type memoryRecord struct {
	line    int
	ent     *model.Entity
	rel     *model.Relation
	size    int64 // bytes of the record in a job
	repairs []string
}

// jobOverhead is the most a one-op job adds to its records' bytes:
// {"ops":[{"op":"create_relations","relations":[...]}]} and the commas.
const jobOverhead = 64

// encodedSize is the bytes of v in a job.
func encodedSize(v any) int64 { return int64(len(marshalPlain(v))) + 1 }

// memoryFields are the fields of the reference file's lines.
var memoryFields = []string{"type", "name", "entityType", "observations", "from", "to", "relationType"}

// parseMemoryLine reads one non-blank line leniently. It returns the
// record, or why the line is skipped. rec.size is the record's bytes in a
// job: exact when exact is set or the line is long, else the line's length
// (a record encodes to at most 6 times its line: a control character
// becomes "\u001f").
func parseMemoryLine(line []byte, lim model.Limits, exact bool) (rec memoryRecord, skip string) {
	if !utf8.Valid(line) {
		// encoding/json would read each bad byte as U+FFFD: two different
		// names could become one.
		return rec, "not valid UTF-8"
	}
	if err := model.CheckSurrogates(line); err != nil {
		// encoding/json would read it as U+FFFD: "S\ud800" and "S\udbff"
		// would become one name.
		return rec, err.Error()
	}
	var ok bool
	if rec, ok = parseMemoryLineFast(line); !ok {
		if rec, skip = parseMemoryLineSlow(line); skip != "" {
			return rec, skip
		}
	}
	exact = exact || int64(len(line)) > lim.MaxBytes/8
	rec.size = int64(len(line)) + 1
	if rec.ent != nil {
		e := rec.ent
		if dropped := dropLongObservations(e, lim); len(dropped) > 0 {
			rec.repairs = append(rec.repairs, dropped...)
			exact = true // the line's length counts what was dropped
		}
		if err := lim.CheckEntity(*e); err != nil {
			return rec, "entity " + quoteName(e.Name) + ": " + err.Error() + raiseHint(lim, e)
		}
		if exact {
			rec.size = encodedSize(e)
		}
		if lim.MaxBytes > 0 && rec.size+jobOverhead > lim.MaxBytes {
			return rec, fmt.Sprintf("entity %s is %d bytes, over what one job may hold (job.max_bytes %d; raise job.max_bytes in the config to import it)", quoteName(e.Name), rec.size, lim.MaxBytes)
		}
		return rec, ""
	}
	if err := lim.CheckRelation(*rec.rel); err != nil {
		return rec, "relation: " + err.Error()
	}
	if exact {
		rec.size = encodedSize(rec.rel)
	}
	if lim.MaxBytes > 0 && rec.size+jobOverhead > lim.MaxBytes {
		return rec, fmt.Sprintf("relation is %d bytes, over what one job may hold (job.max_bytes %d; raise job.max_bytes in the config to import it)", rec.size, lim.MaxBytes)
	}
	return rec, ""
}

// dropLongObservations removes from e the observations over
// job.max_string_bytes, which no job may hold, and returns one repair
// saying so for each: the entity and its relations are kept.
func dropLongObservations(e *model.Entity, lim model.Limits) (repairs []string) {
	if lim.MaxStringBytes <= 0 {
		return nil
	}
	kept := e.Observations[:0:0]
	for i, o := range e.Observations {
		if len(o) > lim.MaxStringBytes {
			repairs = append(repairs, fmt.Sprintf("entity %s: observation %d (%s) dropped: it is %d bytes, over the limit of %d (job.max_string_bytes; raise job.max_string_bytes in the config to keep it)",
				quoteName(e.Name), i+1, quoteName(o), len(o), lim.MaxStringBytes))
			continue
		}
		kept = append(kept, o)
	}
	if len(repairs) > 0 {
		e.Observations = kept
	}
	return repairs
}

// raiseHint says which config key lets e's name or type through, when one
// of them is over job.max_string_bytes (what CheckEntity then refused).
func raiseHint(lim model.Limits, e *model.Entity) string {
	if lim.MaxStringBytes > 0 && (len(e.Name) > lim.MaxStringBytes || len(e.EntityType) > lim.MaxStringBytes) {
		return "; raise job.max_string_bytes in the config to import it"
	}
	return ""
}

// parseMemoryLineFast reads a well-formed line: the reference's fields
// with values of their types, no null anywhere (encoding/json would read a
// null observation as ""). ok is false for anything else, which
// parseMemoryLineSlow then reads.
func parseMemoryLineFast(line []byte) (rec memoryRecord, ok bool) {
	if bytes.Contains(line, []byte("null")) {
		return rec, false
	}
	var m memoryLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return rec, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return rec, false
	}
	switch m.Type {
	case "entity":
		if m.Name == "" || m.From != "" || m.To != "" || m.RelationType != "" {
			return rec, false
		}
		e := &model.Entity{Name: m.Name, Observations: []string{}}
		if m.EntityType == nil {
			rec.repairs = append(rec.repairs, repairNoType)
		} else {
			e.EntityType = *m.EntityType
		}
		if m.Observations == nil {
			rec.repairs = append(rec.repairs, repairNoObservations)
		} else if len(*m.Observations) > 0 {
			e.Observations = *m.Observations
		}
		rec.ent = e
	case "relation":
		if m.From == "" || m.To == "" || m.RelationType == "" || m.Name != "" || m.EntityType != nil || m.Observations != nil {
			return rec, false
		}
		rec.rel = &model.Relation{From: m.From, To: m.To, RelationType: m.RelationType}
	default:
		return rec, false
	}
	return rec, true
}

// What import repairs, in its report's words.
const (
	repairNoType         = `no entityType: taken as ""`
	repairNoObservations = "no observations: taken as []"
)

// parseMemoryLineSlow reads any line, field by field.
func parseMemoryLineSlow(line []byte) (rec memoryRecord, skip string) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return rec, "not a JSON object but a JSON " + ute.Value // "array", "string", "number"
		}
		return rec, "not a JSON object: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	if raw == nil {
		return rec, "not a JSON object: null"
	}
	if _, err := dec.Token(); err != io.EOF {
		return rec, "more than one JSON value on the line"
	}
	for k := range raw {
		if !slices.Contains(memoryFields, k) {
			rec.repairs = append(rec.repairs, fmt.Sprintf("ignored unknown field %q", k))
		}
	}
	slices.Sort(rec.repairs)
	typ, _, _ := jsonString(raw, "type")
	switch typ {
	case "entity":
		e, repairs, skip := parseMemoryEntity(raw)
		if skip != "" {
			return rec, skip
		}
		rec.ent, rec.repairs = e, append(rec.repairs, repairs...)
	case "relation":
		from, _, okf := jsonString(raw, "from")
		to, _, okt := jsonString(raw, "to")
		rt, _, okr := jsonString(raw, "relationType")
		if !okf || !okt || !okr || from == "" || to == "" || rt == "" {
			return rec, "a relation needs from, to and relationType (non-empty strings)"
		}
		rec.rel = &model.Relation{From: from, To: to, RelationType: rt}
	default:
		if _, present := raw["type"]; !present {
			return rec, `no "type" (a line is {"type":"entity",...} or {"type":"relation",...})`
		}
		return rec, fmt.Sprintf(`type %s is neither "entity" nor "relation"`, string(raw["type"]))
	}
	return rec, ""
}

// parseMemoryEntity reads an entity's fields, repairing what is
// unambiguous.
func parseMemoryEntity(raw map[string]json.RawMessage) (e *model.Entity, repairs []string, skip string) {
	name, _, ok := jsonString(raw, "name")
	if !ok || name == "" {
		return nil, nil, "an entity needs a name (a non-empty string)"
	}
	e = &model.Entity{Name: name, Observations: []string{}}
	typ, present, ok := jsonString(raw, "entityType")
	switch {
	case !present:
		repairs = append(repairs, repairNoType)
	case !ok:
		return nil, nil, "entity " + quoteName(name) + ": entityType is not a string"
	}
	e.EntityType = typ
	obs, present := raw["observations"]
	if !present || string(obs) == "null" {
		repairs = append(repairs, repairNoObservations)
		return e, repairs, ""
	}
	var list []json.RawMessage
	if err := json.Unmarshal(obs, &list); err != nil {
		return nil, nil, "entity " + quoteName(name) + ": observations is not a list"
	}
	var dropped []string
	for _, o := range list {
		var s string
		if err := json.Unmarshal(o, &s); err != nil || string(o) == "null" {
			dropped = append(dropped, string(o))
			continue
		}
		e.Observations = append(e.Observations, s)
	}
	if len(dropped) > 0 {
		repairs = append(repairs, fmt.Sprintf("dropped %d observation(s) that are not strings: %s", len(dropped), truncateText(strings.Join(dropped, ", "), 80)))
	}
	return e, repairs, ""
}

// jsonString returns raw[key] as a string: present says whether the key
// is there (and not null), ok whether it holds a string.
func jsonString(raw map[string]json.RawMessage, key string) (s string, present, ok bool) {
	v, has := raw[key]
	if !has || string(v) == "null" {
		return "", false, false
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, false
	}
	return s, true, true
}

func quoteName(s string) string { return fmt.Sprintf("%q", truncateText(s, 60)) }

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// readMemoryLines calls fn with each non-blank line of the file and its
// number (from 1), its line end and a leading byte order mark removed, and
// tells over to each line longer than limit bytes (which it does not hold
// in memory). read, if not nil, gets the bytes read so far.
func readMemoryLines(path string, limit int64, read func(int64), fn func(n int, line []byte) error, over func(n int, size int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	if head, _ := br.Peek(4); model.UTF16Hint(head) != "" {
		return fmt.Errorf("import: %s is not UTF-8%s", path, model.UTF16Hint(head))
	}
	var done int64
	var buf []byte
	for n := 1; ; n++ {
		buf = buf[:0]
		var size int64
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			size += int64(len(chunk))
			if size <= limit+2 { // room for "\r\n"
				buf = append(buf, chunk...)
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		done += size
		if read != nil {
			read(done)
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("import %s: %w", path, err)
		}
		if size > 0 {
			line := bytes.TrimRight(buf, "\r\n")
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			var ferr error
			switch trimmed := bytes.TrimSpace(line); {
			case size > limit+2:
				ferr = over(n, size)
			case len(trimmed) > 0:
				ferr = fn(n, trimmed)
			}
			if ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// memoryImport reads a reference memory file and hands its records on:
// the entities as it reads them, the relations (which may name an entity
// further down) once the file is read and their ends are checked.
type memoryImport struct {
	path   string
	lim    model.Limits
	strict bool
	// known reports which of names (not in the file) the store holds.
	known func(names []string) (map[string]bool, error)
	// existing, if set, returns the entities of names the store holds, for
	// merge (importmerge.go).
	existing func(names []string) (map[string]fsm.Entity, error)

	entityLine  map[string]int // each entity's line
	skippedLine map[string]int // each entity skipped on its line (the first)
	relLine     map[model.Relation]int
	rels        []memoryRecord
	problems    []memoryProblem
	repaired    int // lines
	skipped     int // lines
	merged      int // entities the store held, merged
	obsAdded    int // observations added to them
}

// problem records a repaired or skipped line; with strict it is the error
// that refuses the file.
func (m *memoryImport) problem(p memoryProblem) error {
	if m.strict {
		what := "would be repaired"
		if p.Skipped {
			what = "would be skipped"
		}
		return fmt.Errorf("import %s: line %d: %s (%s; --strict refuses the file, nothing was queued)", m.path, p.Line, p.Reason, what)
	}
	m.problems = append(m.problems, p)
	return nil
}

// run reads the file, calling entity with each entity to import and, at
// the end, relation with each relation to import, each with its bytes in
// a job.
func (m *memoryImport) run(read func(int64), entity func(model.Entity, int64) error, relation func(model.Relation, int64) error) error {
	m.entityLine, m.skippedLine, m.relLine = map[string]int{}, map[string]int{}, map[model.Relation]int{}
	err := readMemoryLines(m.path, m.lim.MaxBytes, read, func(n int, line []byte) error {
		return m.line(n, line, entity)
	}, func(n int, size int64) error {
		m.skipped++
		return m.problem(memoryProblem{Line: n, Skipped: true,
			Reason: fmt.Sprintf("the line is %d bytes, over the limit of %d (job.max_bytes; raise job.max_bytes in the config to import it)", size, m.lim.MaxBytes)})
	})
	if err != nil {
		return err
	}
	return m.relations(relation)
}

// recName is the name of rec's entity, "" for a relation.
func recName(rec memoryRecord) string {
	if rec.ent == nil {
		return ""
	}
	return rec.ent.Name
}

func (m *memoryImport) line(n int, line []byte, entity func(model.Entity, int64) error) error {
	rec, skip := parseMemoryLine(line, m.lim, m.strict)
	switch {
	case skip != "":
	case rec.ent != nil:
		if first, dup := m.entityLine[rec.ent.Name]; dup {
			skip = fmt.Sprintf("entity %s is already on line %d (the first is kept)", quoteName(rec.ent.Name), first)
		}
	case rec.rel != nil:
		if first, dup := m.relLine[*rec.rel]; dup {
			skip = fmt.Sprintf("the same relation is already on line %d", first)
		}
	}
	if skip != "" {
		if _, seen := m.skippedLine[recName(rec)]; rec.ent != nil && !seen {
			m.skippedLine[rec.ent.Name] = n
		}
		m.skipped++
		return m.problem(memoryProblem{Line: n, Skipped: true, Reason: skip})
	}
	if len(rec.repairs) > 0 {
		m.repaired++
		for _, r := range rec.repairs {
			if err := m.problem(memoryProblem{Line: n, Reason: r}); err != nil {
				return err
			}
		}
	}
	rec.line = n
	if rec.rel != nil {
		m.relLine[*rec.rel] = n
		m.rels = append(m.rels, rec)
		return nil
	}
	m.entityLine[rec.ent.Name] = n
	return entity(*rec.ent, rec.size)
}

// relations checks that both ends of each relation are in the file or the
// store and hands on those that are.
func (m *memoryImport) relations(relation func(model.Relation, int64) error) error {
	var outside []string
	seen := map[string]bool{}
	for _, r := range m.rels {
		for _, name := range []string{r.rel.From, r.rel.To} {
			if _, in := m.entityLine[name]; !in && !seen[name] {
				seen[name] = true
				outside = append(outside, name)
			}
		}
	}
	known := map[string]bool{}
	if len(outside) > 0 {
		var err error
		if known, err = m.known(outside); err != nil {
			return fmt.Errorf("import %s: look up the entities relations name outside the file: %w", m.path, err)
		}
	}
	for _, r := range m.rels {
		missing := ""
		for _, name := range []string{r.rel.From, r.rel.To} {
			if _, in := m.entityLine[name]; !in && !known[name] && missing == "" {
				missing = name
			}
		}
		if missing != "" {
			m.skipped++
			why := "is in neither the file nor the store nor a queued job"
			if line, ok := m.skippedLine[missing]; ok {
				why = fmt.Sprintf("was skipped on line %d", line)
			}
			if err := m.problem(memoryProblem{Line: r.line, Skipped: true,
				Reason: fmt.Sprintf("relation %s -> %s: entity %s %s", quoteName(r.rel.From), quoteName(r.rel.To), quoteName(missing), why)}); err != nil {
				return err
			}
			continue
		}
		if err := relation(*r.rel, r.size); err != nil {
			return err
		}
	}
	return nil
}

// queuedJobs returns the jobs still claimed or queued, in the order the
// writer applies them. A job file that cannot be read (applied meanwhile)
// or decoded (bound for the dead letters) is passed over.
func (a *app) queuedJobs(s *snapshot.Store) []*model.Job {
	q := s.Queue()
	var paths []string
	if claimed, err := q.Claimed(); err == nil {
		for _, c := range claimed {
			paths = append(paths, q.Path(c))
		}
	}
	if ents, err := os.ReadDir(q.NewDir()); err == nil { // sorted by name: claim order
		for _, e := range ents {
			if queue.JobFileName(e.Name()) { // others are dead-lettered unread
				paths = append(paths, filepath.Join(q.NewDir(), e.Name()))
			}
		}
	}
	lim := a.cfg.Job.Limits()
	var jobs []*model.Job
	for _, p := range paths {
		data, err := queue.ReadJobFile(p, lim.MaxBytes)
		if err != nil {
			continue
		}
		if job, err := model.DecodeJob(data, lim); err == nil {
			jobs = append(jobs, job)
		}
	}
	return jobs
}
