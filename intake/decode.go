package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"ekbom"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds the nesting of a JSON document. A patient record is at
// most four levels deep; anything far deeper is not a patient record.
const maxDepth = 64

// Decode parses a patient record. format is "json", "yaml" or "" (detect:
// JSON when the first non-space byte is '{', YAML otherwise).
//
// Decode is strict. The document is first parsed into a generic tree and then
// walked field by field against the json tags of ekbom.Patient, so that every
// problem is found at once: unknown fields (with a suggestion), values of the
// wrong type, invalid dates, duplicate keys, a second YAML document or data
// after the JSON object. They are returned together as one
// *ekbom.ValidationError, which matches ekbom.ErrInvalid; each problem carries
// its field path, such as "labs[2].unit".
//
// Decode checks the shape only. Clinical ranges, units and vocabularies are
// checked by Normalize.
func Decode(data []byte, format string) (*ekbom.Patient, error) {
	p, verr := decode(data, format)
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// decode is Decode that also returns what it could decode when there are
// problems, so that Read can add the problems Normalize finds. The patient is
// nil when the document could not be parsed at all.
func decode(data []byte, format string) (*ekbom.Patient, *ekbom.ValidationError) {
	verr := &ekbom.ValidationError{}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte-order mark
	switch strings.ToLower(format) {
	case "":
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = "json"
		} else {
			format = "yaml"
		}
	case "json":
		format = "json"
	case "yaml", "yml":
		format = "yaml"
	default:
		verr.Add("", "unknown format %q (want json or yaml)", format)
		return nil, verr
	}
	if len(bytes.TrimSpace(data)) == 0 {
		verr.Add("", "empty document")
		return nil, verr
	}
	var tree any
	var ok bool
	if format == "json" {
		tree, ok = parseJSON(data, verr)
	} else {
		tree, ok = parseYAML(data, verr)
	}
	if !ok {
		return nil, verr
	}
	if _, isObj := tree.(map[string]any); !isObj {
		verr.Add("", "want an object (a mapping of field names) at the top level, got %s", describe(tree))
		return nil, verr
	}
	d := &decoder{verr: verr}
	p := &ekbom.Patient{}
	d.value("", tree, reflect.ValueOf(p).Elem())
	return p, verr
}

// parseJSON parses data into a tree of map[string]any, []any, string,
// json.Number, bool and nil. It reports syntax errors with their line and
// column, duplicate keys and trailing data.
func parseJSON(data []byte, verr *ekbom.ValidationError) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &jsonParser{dec: dec, verr: verr}
	tree, err := p.value("", 0)
	if err != nil {
		verr.Add("", "invalid JSON%s: %v", jsonWhere(data, dec, err), jsonMessage(err))
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		verr.Add("", "invalid JSON%s: unexpected data after the top-level value", lineCol(data, int(dec.InputOffset())))
		return nil, false
	}
	return tree, true // duplicate keys are reported; decoding goes on
}

type jsonParser struct {
	dec  *json.Decoder
	verr *ekbom.ValidationError
}

func (p *jsonParser) value(path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '{':
		obj := map[string]any{}
		for p.dec.More() {
			tok, err := p.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := tok.(string) // the decoder guarantees a string key here
			v, err := p.value(join(path, key), depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := obj[key]; dup {
				p.verr.Add(join(path, key), "duplicate field")
			}
			obj[key] = v
		}
		if _, err := p.dec.Token(); err != nil { // '}'
			return nil, err
		}
		return obj, nil
	case '[':
		list := []any{}
		for p.dec.More() {
			v, err := p.value(index(path, len(list)), depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := p.dec.Token(); err != nil { // ']'
			return nil, err
		}
		return list, nil
	}
	return nil, fmt.Errorf("unexpected %v", delim)
}

func jsonWhere(data []byte, dec *json.Decoder, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return lineCol(data, int(se.Offset))
	}
	return lineCol(data, int(dec.InputOffset()))
}

func jsonMessage(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// lineCol returns " (line L, column C)" for a byte offset into data.
func lineCol(data []byte, off int) string {
	if off < 0 || off > len(data) {
		return ""
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf(" (line %d, column %d)", line, col)
}

// parseYAML parses exactly one YAML document into a generic tree. yaml.v3
// gives map[string]any (map[any]any when a key is not a string), []any,
// string, int, int64, uint64, float64, bool, time.Time and nil.
func parseYAML(data []byte, verr *ekbom.ValidationError) (tree any, ok bool) {
	defer func() {
		// yaml.v3 is a port of libyaml and has panicked on malformed input
		// in the past; a record that crashes the parser is simply invalid.
		if r := recover(); r != nil {
			verr.Add("", "invalid YAML: %v", r)
			tree, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&tree); err != nil {
		var te *yaml.TypeError
		switch {
		case err == io.EOF:
			verr.Add("", "empty document")
			return nil, false
		case errors.As(err, &te):
			// Duplicate keys. yaml.v3 may still have decoded the rest.
			for _, msg := range te.Errors {
				verr.Add("", "invalid YAML: %s", msg)
			}
			if tree == nil {
				return nil, false
			}
		default:
			verr.Add("", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return nil, false
		}
	}
	var next any
	if err := dec.Decode(&next); err != io.EOF {
		verr.Add("", "a record must be a single YAML document; found more after the first \"---\"")
		return nil, false
	}
	return tree, true
}

// decoder walks a generic tree into a Go value by its json struct tags and
// records every problem.
type decoder struct {
	verr *ekbom.ValidationError
}

var dateType = reflect.TypeFor[ekbom.Date]()

// value decodes in into out (settable) and reports whether in had the right
// type. null leaves out as it is ("not given").
func (d *decoder) value(path string, in any, out reflect.Value) bool {
	if in == nil {
		return true
	}
	if out.Type() == dateType {
		return d.date(path, in, out)
	}
	switch out.Kind() {
	case reflect.Pointer:
		v := reflect.New(out.Type().Elem())
		if !d.value(path, in, v.Elem()) {
			return false
		}
		out.Set(v)
		return true
	case reflect.Struct:
		obj, ok := asObject(in)
		if !ok {
			d.verr.Add(path, "want an object, got %s", describe(in))
			return false
		}
		d.object(path, obj, out)
		return true
	case reflect.Slice:
		list, ok := in.([]any)
		if !ok {
			d.verr.Add(path, "want a list, got %s", describe(in))
			return false
		}
		s := reflect.MakeSlice(out.Type(), len(list), len(list))
		for i, x := range list {
			d.value(index(path, i), x, s.Index(i))
		}
		out.Set(s)
		return true
	case reflect.String:
		s, ok := in.(string)
		if !ok {
			hint := ""
			if isNumber(in) {
				hint = " (put it in quotes)"
			}
			d.verr.Add(path, "want a string, got %s%s", describe(in), hint)
			return false
		}
		out.SetString(s)
		return true
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			d.verr.Add(path, "want true or false, got %s", describe(in))
			return false
		}
		out.SetBool(b)
		return true
	case reflect.Int:
		n, msg := toInt(in)
		if msg != "" {
			d.verr.Add(path, "%s", msg)
			return false
		}
		out.SetInt(n)
		return true
	case reflect.Float64:
		f, msg := toFloat(in)
		if msg != "" {
			d.verr.Add(path, "%s", msg)
			return false
		}
		out.SetFloat(f)
		return true
	}
	// Only reachable if ekbom.Patient gains a field of a new kind.
	d.verr.Add(path, "cannot decode into %s", out.Type())
	return false
}

// object decodes the known fields of obj into the struct out, in field
// order, then reports the unknown ones in name order.
func (d *decoder) object(path string, obj map[string]any, out reflect.Value) {
	fields := fieldsOf(out.Type())
	for _, f := range fields.list {
		v := obj[f.name]
		if v == nil && f.required {
			d.verr.Add(join(path, f.name), "required")
			continue
		}
		d.value(join(path, f.name), v, out.Field(f.index))
	}
	var unknown []string
	for k := range obj {
		if _, ok := fields.byName[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		if s := suggest(k, fields.names()); s != "" {
			d.verr.Add(join(path, k), "unknown field (did you mean %q?)", s)
		} else {
			d.verr.Add(join(path, k), "unknown field")
		}
	}
}

func (d *decoder) date(path string, in any, out reflect.Value) bool {
	switch v := in.(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			return true // "" is "not given", as with Date.UnmarshalText
		}
		dt, err := ekbom.ParseDate(v)
		if err != nil {
			d.verr.Add(path, "%v", err)
			return false
		}
		out.Set(reflect.ValueOf(dt))
		return true
	case time.Time:
		// An unquoted YAML date. A timestamp with a time of day is not a
		// date: refuse it rather than drop the time.
		if h, m, s := v.Clock(); h != 0 || m != 0 || s != 0 || v.Nanosecond() != 0 {
			d.verr.Add(path, "invalid date %q: want YYYY-MM-DD", v.Format(time.RFC3339))
			return false
		}
		out.Set(reflect.ValueOf(ekbom.DateFromTime(v)))
		return true
	}
	d.verr.Add(path, "want a date YYYY-MM-DD, got %s", describe(in))
	return false
}

// field is one json-tagged struct field.
type field struct {
	name  string
	index int
	// required is set for a number without omitempty (a lab's value, an
	// infusion's dose_mg): its zero value cannot say "not given", so a
	// missing or null one is reported here. Other fields without
	// omitempty are strings, dates and pointers, which Normalize checks.
	required bool
}

type structFields struct {
	list   []field
	byName map[string]int
}

func (s *structFields) names() []string {
	out := make([]string, len(s.list))
	for i, f := range s.list {
		out[i] = f.name
	}
	return out
}

var fieldCache sync.Map // reflect.Type -> *structFields

// fieldsOf lists the json fields of struct type t, skipping fields tagged "-"
// and unexported ones.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	s := &structFields{byName: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		k := sf.Type.Kind()
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		s.byName[name] = len(s.list)
		s.list = append(s.list, field{name: name, index: i,
			required: !optional && (k == reflect.Float64 || k == reflect.Int)})
	}
	fieldCache.Store(t, s)
	return s
}

// asObject returns in as a map with string keys. YAML gives map[any]any when
// some key is not a string; such keys are turned into their text so that they
// are reported as unknown fields.
func asObject(in any) (map[string]any, bool) {
	switch m := in.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func isNumber(in any) bool {
	switch in.(type) {
	case json.Number, int, int64, uint64, float64:
		return true
	}
	return false
}

// toInt converts a number to an int. A float with no fractional part (60.0)
// is accepted; 60.5 is not. The message is "" on success.
func toInt(in any) (int64, string) {
	var f float64
	switch v := in.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n, ""
		}
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, fmt.Sprintf("want an integer, got %s (out of range)", v)
		}
		f = x
	case int:
		return int64(v), ""
	case int64:
		return v, ""
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Sprintf("want an integer, got %d (out of range)", v)
		}
		return int64(v), ""
	case float64:
		f = v
	default:
		return 0, "want an integer, got " + describe(in)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, "want an integer, got " + strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f < -(1<<53) || f > 1<<53 {
		return 0, fmt.Sprintf("want an integer, got %g (out of range)", f)
	}
	return int64(f), ""
}

// toFloat converts a number to a finite float64. The message is "" on
// success.
func toFloat(in any) (float64, string) {
	var f float64
	switch v := in.(type) {
	case json.Number:
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, fmt.Sprintf("want a number, got %s (out of range)", v)
		}
		f = x
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	default:
		return 0, "want a number, got " + describe(in)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "want a finite number, got " + describe(in)
	}
	return f, ""
}

// describe names a tree value for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(truncate(v, 40))
	case json.Number:
		return "number " + truncate(string(v), 40)
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case int, int64, uint64:
		return fmt.Sprintf("number %d", v)
	case float64:
		switch {
		case math.IsNaN(v):
			return "number .nan"
		case math.IsInf(v, 1):
			return "number .inf"
		case math.IsInf(v, -1):
			return "number -.inf"
		}
		return "number " + strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return "date " + v.Format(time.DateOnly)
	case map[string]any, map[any]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// suggest returns the name closest to key by edit distance, or "" when
// none is close enough to be a likely typo.
func suggest(key string, names []string) string {
	k := strings.ToLower(key)
	best, bestD := "", math.MaxInt
	for _, n := range names {
		d := editDistance(k, n)
		if d < bestD {
			best, bestD = n, d
		}
	}
	limit := max(2, len(k)/3)
	if best != "" && bestD <= limit {
		return best
	}
	// A prefix such as "weight" for "weight_kg" or "dose" for "dose_mg".
	if len(k) >= 3 {
		for _, n := range names {
			if strings.HasPrefix(n, k) {
				return n
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, by bytes.
// Field names are ASCII; keys are capped so the cost stays small.
func editDistance(a, b string) int {
	if len(a) > 64 {
		a = a[:64]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
