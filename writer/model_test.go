package writer_test

import "encoding/json"
import "fmt"
import "maps"
import "slices"
import "sort"
import "time"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"

// oracle is an independent, deliberately naive implementation of the job
// semantics (those of the reference MCP memory server): whole-state copy per
// job, discard on error. The writer must agree with it.
type oracle struct {
	ents     map[string]mEnt
	rels     map[[3]string]time.Time
	kv       map[string]string
	outcomes []string
}

type mEnt struct {
	typ              string
	obs              []string
	created, updated time.Time
}

// modelDump is the state the reference model gives after the jobs (data)
// applied in order under their ids, in the form storeUnderTest.dump prints.
func modelDump(ids []string, data [][]byte) string {
	m := newOracle()
	for i := range ids {
		m = m.apply(ids[i], data[i])
	}
	return m.dump()
}

func newOracle() *oracle {
	return &oracle{ents: map[string]mEnt{}, rels: map[[3]string]time.Time{}, kv: map[string]string{}}
}

func (m *oracle) clone() *oracle {
	c := &oracle{ents: maps.Clone(m.ents), rels: maps.Clone(m.rels), kv: maps.Clone(m.kv), outcomes: m.outcomes}
	for k, e := range c.ents {
		e.obs = slices.Clone(e.obs)
		c.ents[k] = e
	}
	return c
}

func addNew(base, add []string) []string {
	out := slices.Clone(base)
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (m *oracle) apply(id string, data []byte) *oracle {
	job, err := model.DecodeJob(data, model.Limits{})
	if err != nil {
		m.outcomes = append(m.outcomes, "rejected "+err.Error())
		return m
	}
	at := time.UnixMilli(int64(ulid.MustParse(id).Time())).UTC()
	next := m.clone()
	for i, op := range job.Ops {
		if err := next.op(op, at); err != nil {
			m.outcomes = append(m.outcomes, fmt.Sprintf("rejected op %d (%s): %v", i, op.Op, err))
			return m
		}
	}
	next.outcomes = append(next.outcomes, "applied ")
	return next
}

func (m *oracle) op(op model.Op, at time.Time) error {
	switch op.Op {
	case model.OpCreateEntities:
		for _, e := range op.Entities {
			if _, ok := m.ents[e.Name]; !ok {
				m.ents[e.Name] = mEnt{typ: e.EntityType, obs: addNew([]string{}, e.Observations), created: at, updated: at}
			}
		}
	case model.OpCreateRelations:
		for _, r := range op.Relations {
			for _, n := range []string{r.From, r.To} {
				if _, ok := m.ents[n]; !ok {
					return fmt.Errorf("Entity with name %s not found", n)
				}
			}
			k := [3]string{r.From, r.To, r.RelationType}
			if _, ok := m.rels[k]; !ok {
				m.rels[k] = at
			}
		}
	case model.OpAddObservations:
		for _, a := range op.Observations {
			e, ok := m.ents[a.EntityName]
			if !ok {
				return fmt.Errorf("Entity with name %s not found", a.EntityName)
			}
			if obs := addNew(e.obs, a.Contents); len(obs) != len(e.obs) {
				e.obs, e.updated = obs, at
				m.ents[a.EntityName] = e
			}
		}
	case model.OpDeleteEntities:
		for _, n := range op.EntityNames {
			delete(m.ents, n)
			for k := range m.rels {
				if k[0] == n || k[1] == n {
					delete(m.rels, k)
				}
			}
		}
	case model.OpDeleteObservations:
		for _, d := range op.Deletions {
			e, ok := m.ents[d.EntityName]
			if !ok {
				continue
			}
			obs := slices.DeleteFunc(slices.Clone(e.obs), func(s string) bool { return slices.Contains(d.Observations, s) })
			if len(obs) != len(e.obs) {
				e.obs, e.updated = obs, at
				m.ents[d.EntityName] = e
			}
		}
	case model.OpDeleteRelations:
		for _, r := range op.Relations {
			delete(m.rels, [3]string{r.From, r.To, r.RelationType})
		}
	case model.OpKVPut:
		m.kv[op.Key] = *op.Value
	case model.OpKVDelete:
		delete(m.kv, op.Key)
	}
	return nil
}

// dump renders the model exactly as storeUnderTest.dump renders a store.
func (m *oracle) dump() string {
	var ents [][]any
	for _, n := range slices.Sorted(maps.Keys(m.ents)) {
		e := m.ents[n]
		ents = append(ents, []any{n, e.typ, e.obs, e.created, e.updated})
	}
	keys := slices.Collect(maps.Keys(m.rels))
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0]+"\x00"+keys[i][1]+"\x00"+keys[i][2] < keys[j][0]+"\x00"+keys[j][1]+"\x00"+keys[j][2]
	})
	var rels [][]any
	for _, k := range keys {
		rels = append(rels, []any{k[0], k[1], k[2], m.rels[k]})
	}
	kv := []reader.Pair{}
	for _, k := range slices.Sorted(maps.Keys(m.kv)) {
		kv = append(kv, reader.Pair{Key: k, Value: m.kv[k]})
	}
	out := []any{orEmpty(ents), orEmpty(rels), kv}
	for _, o := range m.outcomes {
		out = append(out, o)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func orEmpty(rows [][]any) [][]any {
	if rows == nil {
		return [][]any{}
	}
	return rows
}
