package model

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "maps"
import "reflect"
import "slices"
import "strings"
import "unicode/utf8"

import jsonv2 "github.com/go-json-experiment/json"
import "github.com/go-json-experiment/json/jsontext"

// ErrInvalidJob is returned (wrapped, with the reason) for a job that can
// never be applied: malformed JSON, unknown ops or fields, empty names, or a
// job over the size limits.
var ErrInvalidJob = errors.New("invalid job")

// Job is one unit of work: its ops apply all together or not at all.
type Job struct {
	Ops []Op `json:"ops"`
}

// Op kinds; they mirror the tools of the reference MCP memory server.
const (
	OpCreateEntities     = "create_entities"
	OpCreateRelations    = "create_relations"
	OpAddObservations    = "add_observations"
	OpDeleteEntities     = "delete_entities"
	OpDeleteObservations = "delete_observations"
	OpDeleteRelations    = "delete_relations"
	OpKVPut              = "kv_put"
	OpKVDelete           = "kv_delete"
)

// Op is one operation. Exactly the fields of its kind are set.
type Op struct {
	Op           string              `json:"op"`
	Entities     []Entity            `json:"entities,omitempty"`
	Relations    []Relation          `json:"relations,omitempty"`
	Observations []ObservationAdd    `json:"observations,omitempty"`
	EntityNames  []string            `json:"entityNames,omitempty"`
	Deletions    []ObservationDelete `json:"deletions,omitempty"`
	Key          string              `json:"key,omitempty"`
	Value        *string             `json:"value,omitempty"`
}

// MarshalJSON writes exactly the fields of the op's kind, so that a decoded
// job marshals back to a job that decodes to the same value (empty lists
// included, which the struct tags alone would drop).
func (o Op) MarshalJSON() ([]byte, error) {
	kind, ok := kinds[o.Op]
	if !ok {
		return nil, fmt.Errorf("marshal op: unknown op %q", o.Op)
	}
	v := kind.body(o)
	// <, > and & stay as they are: json.Marshal writes each as six bytes,
	// which could push a job over job.max_bytes (an encoder marshalling
	// the job without HTML escaping keeps what this returns).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// NonNil returns s, or an empty slice for nil, so that it encodes as []
// rather than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Entity is a node of the knowledge graph.
type Entity struct {
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

// StringBytes is the bytes of e's strings (name, type, observations):
// what any encoding of e carries at least once.
func (e Entity) StringBytes() int {
	n := len(e.Name) + len(e.EntityType)
	for _, o := range e.Observations {
		n += len(o)
	}
	return n
}

// Relation is a directed, typed edge between two entities.
type Relation struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
}

// ObservationAdd adds observations to an entity.
type ObservationAdd struct {
	EntityName string   `json:"entityName"`
	Contents   []string `json:"contents"`
}

// ObservationDelete removes observations from an entity.
type ObservationDelete struct {
	EntityName   string   `json:"entityName"`
	Observations []string `json:"observations"`
}

// Limits caps what one job may contain (config keys job.max_bytes,
// job.max_ops, job.max_string_bytes, job.max_value_bytes). A zero field
// means no cap.
type Limits struct {
	MaxBytes       int64
	MaxOps         int
	MaxStringBytes int
	MaxValueBytes  int // 0: MaxStringBytes applies to values too
}

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte order mark.
var utf8BOM = []byte("\xef\xbb\xbf")

// DecodeJob parses and validates a job. Every op is decoded strictly into the
// fields of its own kind, so an unknown op, an unknown field, a missing
// required field, an empty name or a value over the limits is an error that
// wraps ErrInvalidJob and says where the problem is. A leading UTF-8 byte
// order mark is skipped. Text that is not valid UTF-8, or a string holding an
// unpaired surrogate escape such as "\ud800" (CheckSurrogates), is refused:
// either would be read as U+FFFD, and different names would become one.
func DecodeJob(data []byte, lim Limits) (*Job, error) {
	return decodeJob(data, lim, true)
}

// UTF16Hint returns, for text that starts as UTF-16 does (a UTF-16 byte
// order mark, or ASCII with every other byte zero, which no JSON text
// holds), a clause saying so and what to do, to add to a "not UTF-8"
// error; "" for other text.
// PowerShell 5's > and Out-File write UTF-16 by default.
func UTF16Hint(data []byte) string {
	bom := len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF)
	le := len(data) >= 4 && data[0] != 0 && data[1] == 0 && data[2] != 0 && data[3] == 0
	be := len(data) >= 4 && data[0] == 0 && data[1] != 0 && data[2] == 0 && data[3] != 0
	if !bom && !le && !be {
		return ""
	}
	return ": it is UTF-16 (as PowerShell 5's > and Out-File write it); save it as UTF-8 (Out-File -Encoding utf8)"
}

// JSONValues splits data, JSON values one after another (one value, or
// JSON Lines), into its values, read as DecodeJob reads a job: a leading
// UTF-8 byte order mark is skipped, UTF-16 is named (UTF16Hint), and text
// that is not valid UTF-8 or an object member name given twice is an error
// that says which value (1-based) holds it, worded as DecodeJob's.
func JSONValues(data []byte) ([]jsontext.Value, error) {
	if h := UTF16Hint(data); h != "" {
		return nil, fmt.Errorf("not UTF-8%s", h)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	var values []jsontext.Value
	for {
		v, err := dec.ReadValue()
		if errors.Is(err, io.EOF) {
			return values, nil
		}
		if err != nil {
			return nil, fmt.Errorf("item %d: malformed JSON: %w", len(values)+1, decodeError(err))
		}
		values = append(values, v.Clone())
	}
}

// DecodeAppliedJob is DecodeJob for a job a snapshot already holds (replayed
// or indexed again): it reads an unpaired surrogate escape as U+FFFD, as it
// was applied before DecodeJob refused it, so that an older store's jobs
// apply again to the same state.
func DecodeAppliedJob(data []byte, lim Limits) (*Job, error) {
	return decodeJob(data, lim, false)
}

func decodeJob(data []byte, lim Limits, strictText bool) (*Job, error) {
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, Invalidf("job is %d bytes, over the limit of %d (job.max_bytes)", len(data), lim.MaxBytes)
	}
	if h := UTF16Hint(data); h != "" {
		return nil, Invalidf("job is not UTF-8%s", h)
	}
	if !utf8.Valid(data) {
		return nil, Invalidf("job is not valid UTF-8")
	}
	if strictText {
		if err := CheckSurrogates(data); err != nil {
			return nil, fmt.Errorf("%w: job is not valid Unicode: %w", ErrInvalidJob, err)
		}
	}
	// A UTF-8 byte order mark, as some Windows editors write, is not part
	// of the JSON (RFC 8259 lets a parser ignore it).
	data = bytes.TrimPrefix(data, utf8BOM)
	var raw struct {
		Ops []jsontext.Value `json:"ops"`
	}
	if err := strictDecode(data, &raw, !strictText); err != nil {
		return nil, Invalidf("%v", err)
	}
	if raw.Ops == nil {
		return nil, Invalidf(`missing "ops" (a job is {"ops": [...]})`)
	}
	if len(raw.Ops) == 0 {
		return nil, Invalidf("job has no ops")
	}
	if lim.MaxOps > 0 && len(raw.Ops) > lim.MaxOps {
		return nil, Invalidf("job has %d ops, over the limit of %d (job.max_ops)", len(raw.Ops), lim.MaxOps)
	}
	job := &Job{Ops: make([]Op, 0, len(raw.Ops))}
	for i, r := range raw.Ops {
		op, err := decodeOp(r, lim, !strictText)
		if err != nil {
			return nil, Invalidf("op %d: %v", i, err)
		}
		job.Ops = append(job.Ops, op)
	}
	return job, nil
}

// CheckEntity returns why a create_entities op holding e would be refused
// (an empty name; a string over lim, not UTF-8 or holding a NUL), or nil.
func (lim Limits) CheckEntity(e Entity) error {
	v := validator{lim: lim}
	checkEntity(&v, "", e)
	return v.err
}

// CheckRelation returns why a create_relations op holding r would be
// refused, or nil.
func (lim Limits) CheckRelation(r Relation) error {
	v := validator{lim: lim}
	checkRelation(&v, "", r)
	return v.err
}

// checkEntity checks e's fields, naming each with prefix before it.
func checkEntity(v *validator, prefix string, e Entity) {
	v.name(prefix+"name", e.Name)
	v.str(prefix+"entityType", e.EntityType)
	v.strs(prefix+"observations", e.Observations)
}

// checkRelation checks r's fields, naming each with prefix before it.
func checkRelation(v *validator, prefix string, r Relation) {
	v.name(prefix+"from", r.From)
	v.name(prefix+"to", r.To)
	v.name(prefix+"relationType", r.RelationType)
}

// Invalidf returns an error wrapping ErrInvalidJob with the reason; the
// queue uses it for job files that can never be applied.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidJob, fmt.Sprintf(format, args...))
}

// strictDecode decodes the one JSON value of data into v. Member names match
// the json tags exactly, as the MCP server's argument decoder matches them
// (encoding/json would take "OPS" or "Name" for "ops" or "name"); a name v
// does not know, or one given twice, is an error: the README's "unknown
// fields are refused", and no silent choice between two values. allowBad
// lets an unpaired surrogate escape through as U+FFFD (DecodeAppliedJob).
// The errors keep encoding/json's wording: "unknown field", "cannot
// unmarshal <kind> into ...", after "malformed JSON: ".
func strictDecode(data []byte, v any, allowBad bool) error {
	opts := []jsonv2.Options{jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(allowBad)}
	dec := jsontext.NewDecoder(bytes.NewReader(data), opts...)
	if err := jsonv2.UnmarshalDecode(dec, v, opts...); err != nil {
		return fmt.Errorf("malformed JSON: %w", decodeError(err))
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return errors.New("malformed JSON: trailing data after the job object")
	}
	return nil
}

// decodeError words an error of jsonv2 as encoding/json would, with the
// JSON pointer of where it is.
func decodeError(err error) error {
	var serr *jsonv2.SemanticError
	var xerr *jsontext.SyntacticError
	switch {
	case errors.As(err, &serr) && errors.Is(serr.Err, jsonv2.ErrUnknownName):
		return fmt.Errorf("json: unknown field %q", serr.JSONPointer.LastToken())
	case errors.As(err, &xerr) && errors.Is(xerr.Err, jsontext.ErrDuplicateName):
		// No pointer: jsontext's pointer inside a raw value can miss names.
		return fmt.Errorf("json: duplicate field %q (a name may appear once in an object)", xerr.JSONPointer.LastToken())
	case errors.As(err, &serr) && serr.GoType != nil && serr.JSONKind != 0:
		return fmt.Errorf("json: cannot unmarshal %s into field %q of type %s", kindName(serr.JSONKind), serr.JSONPointer, serr.GoType)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of JSON input")
	}
	return err
}

// kindName is encoding/json's name for a JSON kind.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return k.String()
}

func decodeOp(r jsontext.Value, lim Limits, allowBad bool) (Op, error) {
	var head struct {
		Op string `json:"op"`
	}
	if err := jsonv2.Unmarshal(r, &head, jsontext.AllowInvalidUTF8(allowBad)); err != nil {
		return Op{}, fmt.Errorf("malformed op: %w", decodeError(err))
	}
	if head.Op == "" {
		return Op{}, errors.New(`missing "op"`)
	}
	kind, ok := kinds[head.Op]
	if !ok {
		return Op{}, fmt.Errorf("unknown op %q", head.Op)
	}
	v := validator{lim: lim, allowBad: allowBad}
	op, err := kind.decode(r, &v)
	if err != nil {
		return op, fmt.Errorf("%s: %w", head.Op, err)
	}
	if v.err != nil {
		return op, fmt.Errorf("%s: %w", head.Op, v.err)
	}
	op.Op = head.Op
	return op, nil
}

// OpKinds returns, sorted, every op kind DecodeJob accepts: each must
// have its rules in internal/fsm's table (a test there checks it).
func OpKinds() []string { return slices.Sorted(maps.Keys(kinds)) }

// opKind is how ops of one kind are read and written. decode decodes an
// op strictly into the fields of its kind, recording problems with the
// values in v; body is what MarshalJSON encodes for o: "op" and exactly
// the fields of its kind.
type opKind struct {
	decode func(r jsontext.Value, v *validator) (Op, error)
	body   func(o Op) any
}

// kinds holds every op kind DecodeJob accepts, by name.
var kinds = map[string]opKind{
	OpCreateEntities: listOp("entities", func(o *Op) *[]Entity { return &o.Entities }, func(v *validator, at string, e Entity) {
		checkEntity(v, at+".", e)
	}),
	OpCreateRelations: relationsOp,
	OpDeleteRelations: relationsOp,
	OpAddObservations: listOp("observations", func(o *Op) *[]ObservationAdd { return &o.Observations }, func(v *validator, at string, a ObservationAdd) {
		v.name(at+".entityName", a.EntityName)
		v.required(at+".contents", a.Contents != nil)
		v.strs(at+".contents", a.Contents)
	}),
	OpDeleteEntities: listOp("entityNames", func(o *Op) *[]string { return &o.EntityNames }, (*validator).name),
	OpDeleteObservations: listOp("deletions", func(o *Op) *[]ObservationDelete { return &o.Deletions }, func(v *validator, at string, d ObservationDelete) {
		v.name(at+".entityName", d.EntityName)
		v.required(at+".observations", d.Observations != nil)
		v.strs(at+".observations", d.Observations)
	}),
	OpKVPut:    {decodeKVPut, kvPutBody},
	OpKVDelete: {decodeKVDelete, kvDeleteBody},
}

// relationsOp is create_relations and delete_relations: the same list.
var relationsOp = listOp("relations", func(o *Op) *[]Relation { return &o.Relations }, func(v *validator, at string, r Relation) {
	checkRelation(v, at+".", r)
})

// listOp is the kind of an op whose one field is a list: field in Op,
// name in JSON. Its body is {"op": ..., name: [...]}: decode refuses any
// other member as an unknown field, requires the list and checks each
// item with check at name[i]; body writes an empty list as [], not null.
func listOp[T any](name string, field func(o *Op) *[]T, check func(v *validator, at string, item T)) opKind {
	body := reflect.StructOf([]reflect.StructField{
		{Name: "Op", Type: reflect.TypeFor[string](), Tag: `json:"op"`},
		{Name: "List", Type: reflect.TypeFor[*[]T](), Tag: reflect.StructTag(fmt.Sprintf("json:%q", name))},
	})
	decode := func(r jsontext.Value, v *validator) (op Op, err error) {
		b := reflect.New(body)
		if err := strictDecode(r, b.Interface(), v.allowBad); err != nil {
			return op, err
		}
		list := b.Elem().Field(1).Interface().(*[]T)
		v.required(name, list != nil)
		if list != nil {
			for i, item := range *list {
				check(v, fmt.Sprintf("%s[%d]", name, i), item)
			}
			*field(&op) = *list
		}
		return op, nil
	}
	encode := func(o Op) any {
		b := reflect.New(body).Elem()
		b.Field(0).SetString(o.Op)
		list := NonNil(*field(&o))
		b.Field(1).Set(reflect.ValueOf(&list))
		return b.Interface()
	}
	return opKind{decode, encode}
}

func decodeKVPut(r jsontext.Value, v *validator) (op Op, err error) {
	var b struct {
		Op    string  `json:"op"`
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := strictDecode(r, &b, v.allowBad); err != nil {
		return op, err
	}
	v.required("key", b.Key != nil)
	v.required("value", b.Value != nil)
	if b.Key != nil {
		v.name("key", *b.Key)
		op.Key = *b.Key
	}
	if b.Value != nil {
		v.value("value", *b.Value)
		op.Value = b.Value
	}
	return op, nil
}

func decodeKVDelete(r jsontext.Value, v *validator) (op Op, err error) {
	var b struct {
		Op  string  `json:"op"`
		Key *string `json:"key"`
	}
	if err := strictDecode(r, &b, v.allowBad); err != nil {
		return op, err
	}
	v.required("key", b.Key != nil)
	if b.Key != nil {
		v.name("key", *b.Key)
		op.Key = *b.Key
	}
	return op, nil
}

// kvPutBody is a kv_put op's body; a nil Value is written as "".
func kvPutBody(o Op) any {
	val := ""
	if o.Value != nil {
		val = *o.Value
	}
	return struct {
		Op    string `json:"op"`
		Key   string `json:"key"`
		Value string `json:"value"`
	}{o.Op, o.Key, val}
}

// kvDeleteBody is a kv_delete op's body.
func kvDeleteBody(o Op) any {
	return struct {
		Op  string `json:"op"`
		Key string `json:"key"`
	}{o.Op, o.Key}
}

// validator records the first problem it sees.
type validator struct {
	lim      Limits
	allowBad bool // decode with strictDecode's allowBad
	err      error
}

func (v *validator) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(format, args...)
	}
}

func (v *validator) required(field string, present bool) {
	if !present {
		v.fail("%s is required", field)
	}
}

func (v *validator) name(field, s string) {
	if s == "" {
		v.fail("%s is empty", field)
		return
	}
	v.str(field, s)
}

func (v *validator) str(field, s string) {
	if v.lim.MaxStringBytes > 0 && len(s) > v.lim.MaxStringBytes {
		v.fail("%s is %d bytes, over the limit of %d (job.max_string_bytes)", field, len(s), v.lim.MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		v.fail("%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		// The graph engine stores strings as C strings: it would cut the
		// text at the NUL and two different names could become one.
		v.fail("%s contains a NUL character (\\u0000)", field)
	}
}

// value checks a KV value against job.max_value_bytes.
func (v *validator) value(field, s string) {
	if v.lim.MaxValueBytes == 0 {
		v.str(field, s)
		return
	}
	if len(s) > v.lim.MaxValueBytes {
		v.fail("%s is %d bytes, over the limit of %d (job.max_value_bytes)", field, len(s), v.lim.MaxValueBytes)
	}
	if !utf8.ValidString(s) {
		v.fail("%s is not valid UTF-8", field)
	}
}

func (v *validator) strs(field string, ss []string) {
	for i, s := range ss {
		v.str(fmt.Sprintf("%s[%d]", field, i), s)
	}
}
