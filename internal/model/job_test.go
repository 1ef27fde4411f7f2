package model

import "errors"
import "strings"
import "testing"

func TestDecodeJob(t *testing.T) {
	lim := Limits{MaxBytes: 4096, MaxOps: 3, MaxStringBytes: 32}
	good := []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["x"]}]}]}`,
		`{"ops":[{"op":"create_entities","entities":[]}]}`,
		`{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`,
		`{"ops":[{"op":"add_observations","observations":[{"entityName":"a","contents":[]}]}]}`,
		`{"ops":[{"op":"delete_entities","entityNames":["a"]}]}`,
		`{"ops":[{"op":"delete_observations","deletions":[{"entityName":"a","observations":["x"]}]}]}`,
		`{"ops":[{"op":"delete_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`,
		`{"ops":[{"op":"kv_put","key":"k","value":""},{"op":"kv_delete","key":"k"}]}`,
		"\xef\xbb\xbf{\"ops\":[{\"op\":\"kv_delete\",\"key\":\"k\"}]}", // a byte order mark first
	}
	for _, j := range good {
		if _, err := DecodeJob([]byte(j), lim); err != nil {
			t.Errorf("%s: %v", j, err)
		}
	}
	bad := map[string]string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"N\u0000ul","entityType":"t","observations":[]}]}]}`: "contains a NUL character",
		`{"ops":[{"op":"kv_put","key":"k\u0000","value":"v"}]}`:                                                   "contains a NUL character",
		`{"ops":[{"op":"kv_put","key":"k","value":"v"}]} {}`:                                                      "trailing data",
		`{"ops":[{"op":"kv_put","key":"k","value":"v"}],"extra":1}`:                                               `unknown field "extra"`,
		`{"ops":[{"op":"kv_put","key":"k"}]}`:                                                                     "value is required",
		`{"ops":[{"key":"k"}]}`:                                                                                   `missing "op"`,
		`{"ops":[{"op":"create_entities"}]}`:                                                                      "entities is required",
		`{"ops":[{"op":"delete_entities","entityNames":[""]}]}`:                                                   "entityNames[0] is empty",
		`{"ops":[{"op":"kv_put","key":"k","value":"v"},{"op":"kv_put","key":"k","value":"v"},{"op":"kv_put","key":"k","value":"v"},{"op":"kv_put","key":"k","value":"v"}]}`: "4 ops, over the limit of 3",
		`{"ops":[{"op":"kv_put","key":"` + strings.Repeat("k", 33) + `","value":"v"}]}`:                                                                                     "key is 33 bytes, over the limit of 32",
		`{"ops":[{"op":"kv_put","key":"k","value":"` + strings.Repeat("v", 5000) + `"}]}`:                                                                                   "over the limit of 4096",
		"{\"ops\":[{\"op\":\"kv_put\",\"key\":\"\xff\",\"value\":\"v\"}]}":                                                                                                  "not valid UTF-8",
		`{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"b"}]}]}`:                                                                                           "relations[0].relationType is empty",
		`null`:                                                 `missing "ops"`,
		`{"OPS":[{"op":"kv_delete","key":"k"}]}`:               `unknown field "OPS"`,
		`{"ops":[{"op":"kv_delete","Key":"k"}]}`:               `unknown field "Key"`,
		`{"ops":[{"op":"kv_delete","key":"k","key":"l"}]}`:     `duplicate field "key"`,
		`{"ops":[{"op":"delete_entities","entityNames":"a"}]}`: `cannot unmarshal string into field "/entityNames" of type []string`,
		`{"ops":[{"op":"kv_put","key":"k","value":"v"}`:        `malformed JSON: unexpected end of JSON input`,
	}
	for j, want := range bad {
		_, err := DecodeJob([]byte(j), lim)
		if err == nil || !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: got %v, want %q", j, err, want)
		}
	}
}

// An unpaired surrogate escape is refused by DecodeJob, naming the escape,
// and read as U+FFFD by DecodeAppliedJob; a proper pair, or an escaped
// backslash before a u, is not one.
func TestDecodeJobLoneSurrogates(t *testing.T) {
	for _, s := range []string{`\ud800`, `\uDBFF`, `\udc00`, `\udc00\ud800`, `\ud800x`, `\ud800\u0041`, `a\\\ud800`} {
		data := []byte(`{"ops":[{"op":"kv_put","key":"k` + s + `","value":"v"}]}`)
		_, err := DecodeJob(data, Limits{})
		if !errors.Is(err, ErrInvalidJob) || !errors.Is(err, ErrUnpairedSurrogate) || !strings.Contains(err.Error(), "unpaired surrogate escape") {
			t.Errorf("%s: %v; want an unpaired surrogate error", s, err)
		}
		if job, err := DecodeAppliedJob(data, Limits{}); err != nil || !strings.Contains(job.Ops[0].Key, "\ufffd") {
			t.Errorf("%s applied before: %v", s, err)
		}
	}
	for _, s := range []string{`\ud83d\ude00`, `\\ud800`, `\\\\ud800`, `\u00e9`, `\uD83D\uDE00`} {
		if _, err := DecodeJob([]byte(`{"ops":[{"op":"kv_put","key":"k`+s+`","value":"v"}]}`), Limits{}); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

// A job saved as UTF-16 (PowerShell 5's >) is refused saying so.
func TestUTF16JobSaysSo(t *testing.T) {
	job := `{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`
	le := []byte{0xFF, 0xFE}
	for _, r := range job {
		le = append(le, byte(r), 0)
	}
	var be []byte
	for _, r := range job {
		be = append(be, 0, byte(r))
	}
	for name, data := range map[string][]byte{"with BOM": le, "without BOM": le[2:], "big-endian without BOM": be} {
		_, err := DecodeJob(data, Limits{})
		if err == nil || !strings.Contains(err.Error(), "it is UTF-16") || !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if h := UTF16Hint([]byte(job)); h != "" {
		t.Errorf("UTF-8 job gets %q", h)
	}
}

// An op built in Go with a nil list marshals with the list as [] (as a
// decoded empty list does), only the fields of its kind, and <, > and &
// as they are; an unknown kind is an error.
func TestMarshalOp(t *testing.T) {
	v := "<v>"
	for _, c := range []struct {
		op   Op
		want string
	}{
		{Op{Op: OpCreateEntities}, `{"op":"create_entities","entities":[]}`},
		{Op{Op: OpCreateRelations, Key: "ignored"}, `{"op":"create_relations","relations":[]}`},
		{Op{Op: OpDeleteRelations, Relations: []Relation{{"a&b", "c", "r"}}}, `{"op":"delete_relations","relations":[{"from":"a&b","to":"c","relationType":"r"}]}`},
		{Op{Op: OpAddObservations}, `{"op":"add_observations","observations":[]}`},
		{Op{Op: OpDeleteEntities, EntityNames: []string{"x"}}, `{"op":"delete_entities","entityNames":["x"]}`},
		{Op{Op: OpDeleteObservations}, `{"op":"delete_observations","deletions":[]}`},
		{Op{Op: OpKVPut, Key: "k"}, `{"op":"kv_put","key":"k","value":""}`},
		{Op{Op: OpKVPut, Key: "k", Value: &v}, `{"op":"kv_put","key":"k","value":"<v>"}`},
		{Op{Op: OpKVDelete, Key: "k"}, `{"op":"kv_delete","key":"k"}`},
	} {
		b, err := c.op.MarshalJSON()
		if err != nil || string(b) != c.want {
			t.Errorf("%+v: %s, %v; want %s", c.op, b, err, c.want)
		}
	}
	if _, err := (Op{Op: "nuke"}).MarshalJSON(); err == nil || !strings.Contains(err.Error(), `unknown op "nuke"`) {
		t.Errorf("unknown kind: %v", err)
	}
}
