package model

import (
	"errors"
	"strings"
	"testing"
)

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
		`null`: `missing "ops"`,
	}
	for j, want := range bad {
		_, err := DecodeJob([]byte(j), lim)
		if err == nil || !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: got %v, want %q", j, err, want)
		}
	}
}
