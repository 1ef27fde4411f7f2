package model

import "encoding/json"
import "errors"
import "reflect"
import "strings"
import "testing"
import "unicode/utf8"

// FuzzDecodeJob feeds arbitrary bytes to the job decoder. It must never
// panic; every error must wrap ErrInvalidJob; every accepted job must respect
// the limits, hold only valid UTF-8 and non-empty names, and marshal back to
// bytes that decode to the very same job.
func FuzzDecodeJob(f *testing.F) {
	for _, s := range []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["x"]}]}]}`,
		`{"ops":[{"op":"create_entities","entities":[]}]}`,
		`{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`,
		`{"ops":[{"op":"add_observations","observations":[{"entityName":"a","contents":["c"]}]}]}`,
		`{"ops":[{"op":"delete_entities","entityNames":["a"]}]}`,
		`{"ops":[{"op":"delete_observations","deletions":[{"entityName":"a","observations":["x"]}]}]}`,
		`{"ops":[{"op":"delete_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":""},{"op":"kv_delete","key":"k"}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":"\u00e9\ud83d\ude00"}]}`,
		`{"ops":[{"op":"nuke"}]}`,
		`{"ops":[]}`, `{}`, `[]`, `null`, `{"ops":null}`, `{"ops":[{}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":"v","extra":1}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":"v"}]} trailing`,
		`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["x"],"name":"b"}]}]}`,
		"{\"ops\":[{\"op\":\"kv_put\",\"key\":\"\xff\",\"value\":\"v\"}]}",
		`{"ops":[{"op":"kv_put","key":"sur\ud800","value":"x"}]}`,
		`{"OPS":[{"OP":"kv_put","KEY":"upper","VALUE":"y"}]}`,
		`{"ops":[{"op":"kv_put","op":"kv_delete","key":"k"}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":"\udc00\ud800\\ud800"}]}`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 8192, MaxOps: 8, MaxStringBytes: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := DecodeJob(data, lim)
		if err != nil {
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("error does not wrap ErrInvalidJob: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if len(job.Ops) == 0 || len(job.Ops) > lim.MaxOps {
			t.Fatalf("accepted %d ops", len(job.Ops))
		}
		for _, s := range jobStrings(job) {
			if len(s.v) > lim.MaxStringBytes || !utf8.ValidString(s.v) || (s.name && s.v == "") {
				t.Fatalf("accepted a bad string %q", s.v)
			}
			// U+FFFD only where the text wrote one: never a lone
			// surrogate escape read as it.
			if strings.ContainsRune(s.v, utf8.RuneError) && !strings.ContainsRune(string(data), utf8.RuneError) && !strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
				t.Fatalf("accepted %q, a U+FFFD the job did not write", s.v)
			}
		}
		again, err := json.Marshal(job)
		if err != nil {
			t.Fatalf("marshal accepted job: %v", err)
		}
		job2, err := DecodeJob(again, Limits{MaxOps: lim.MaxOps, MaxStringBytes: lim.MaxStringBytes})
		if err != nil {
			t.Fatalf("re-encoded job %s is refused: %v", again, err)
		}
		if !reflect.DeepEqual(job, job2) {
			t.Fatalf("round trip changed the job:\n%#v\n%#v", job, job2)
		}
	})
}

type jobString struct {
	v    string
	name bool // must not be empty
}

func jobStrings(j *Job) []jobString {
	var out []jobString
	add := func(name bool, vs ...string) {
		for _, v := range vs {
			out = append(out, jobString{v, name})
		}
	}
	for _, op := range j.Ops {
		for _, e := range op.Entities {
			add(true, e.Name)
			add(false, e.EntityType)
			add(false, e.Observations...)
		}
		for _, r := range op.Relations {
			add(true, r.From, r.To, r.RelationType)
		}
		for _, o := range op.Observations {
			add(true, o.EntityName)
			add(false, o.Contents...)
		}
		add(true, op.EntityNames...)
		for _, d := range op.Deletions {
			add(true, d.EntityName)
			add(false, d.Observations...)
		}
		if op.Op == OpKVPut || op.Op == OpKVDelete {
			add(true, op.Key)
		}
		if op.Value != nil {
			add(false, *op.Value)
		}
	}
	return out
}
