package fhir

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"ekbom/jsonscan"
)

// A fast path for decoding the reader's types.
//
// encoding/json validates its whole input before decoding it, then decodes
// it through a byte-at-a-time state machine; a bundle used to be validated
// and scanned once for the bundle and twice more for each resource.
// decodeFast parses strictly and decodes in one tight pass, with a plan per
// Go type built once. For what it accepts, it decodes exactly as
// encoding/json does; it declines (returns false) anything outside the
// subset it handles: input that is not valid JSON, a key that matches a
// field only without regard to case, a repeated key, a value of the wrong
// type, a field type outside the subset. The callers then decode with
// encoding/json, so every result, note and error is what it was; only the
// time differs. fastjson_test.go holds the two decoders to that.

// decodeJSON is json.Unmarshal(data, v) for v pointing to a zero value.
func decodeJSON[T any](data []byte, v *T) error {
	if decodeFast(data, v) {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(data, v)
}

// decodeFast decodes data into v, a non-nil pointer to a zero value, when
// data is valid JSON of a shape it handles. false means it declined: v may
// be partly written.
func decodeFast(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	p := planFor(rv.Type().Elem())
	d := fastDecoder{jsonscan.Scanner{Data: data, MaxDepth: maxDepth}}
	d.Space()
	if !d.value(rv.Elem(), p) {
		return false
	}
	d.Space()
	return d.I == len(d.Data)
}

type planKind uint8

const (
	kindUnsupported planKind = iota
	kindString
	kindBool
	kindPointer
	kindStruct
	kindSlice
	kindUnmarshaler // a non-pointer type whose pointer is a json.Unmarshaler
	kindResource    // rawResource
)

// typePlan says how to decode into one Go type.
type typePlan struct {
	kind   planKind
	elem   *typePlan   // pointer and slice
	fields []fieldPlan // struct, at most 64
}

type fieldPlan struct {
	name  string // the JSON key
	index int
	plan  *typePlan
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

	plansMu sync.Mutex
	plans   sync.Map // reflect.Type → *typePlan
)

func planFor(t reflect.Type) *typePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*typePlan)
	}
	plansMu.Lock()
	defer plansMu.Unlock()
	building := map[reflect.Type]*typePlan{}
	p := buildPlan(t, building)
	for t, p := range building {
		plans.Store(t, p)
	}
	return p
}

// buildPlan builds the plan of t; building holds the plans under way, so
// recursive types (a questionnaire item holds items) refer to themselves.
func buildPlan(t reflect.Type, building map[reflect.Type]*typePlan) *typePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*typePlan)
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &typePlan{}
	building[t] = p
	pt := reflect.PointerTo(t)
	switch {
	case t == reflect.TypeFor[rawResource]():
		p.kind = kindResource
	case t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType):
		// Unmarshalers reached through a pointer, or by value: not used.
	case pt.Implements(unmarshalerType):
		if t.Kind() != reflect.Pointer {
			p.kind = kindUnmarshaler
		}
	case pt.Implements(textUnmarshalerType):
	case t.Kind() == reflect.String && t.Name() == "string":
		p.kind = kindString
	case t.Kind() == reflect.Bool && t.Name() == "bool":
		p.kind = kindBool
	case t.Kind() == reflect.Pointer:
		p.elem = buildPlan(t.Elem(), building)
		p.kind = kindPointer
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		p.elem = buildPlan(t.Elem(), building)
		p.kind = kindSlice
	case t.Kind() == reflect.Struct:
		p.kind = kindStruct
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue // encoding/json ignores it too
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous || name == "" || name == "-" || (opts != "" && opts != "omitempty") || !simpleKey(name) {
				p.kind = kindUnsupported // naming rules the fast path does not follow
				break
			}
			p.fields = append(p.fields, fieldPlan{name: name, index: i, plan: buildPlan(f.Type, building)})
		}
		if len(p.fields) > 64 {
			p.kind = kindUnsupported
		}
	}
	return p
}

// simpleKey reports whether a JSON key is ASCII letters and digits, so
// that matching it without case is ASCII case folding.
func simpleKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// maxDepth bounds the nesting the fast path follows (encoding/json allows
// 10000; deeper input is declined and left to it).
const maxDepth = 500

// fastDecoder is the shared strict JSON scanner with the typed decoding
// on top.
type fastDecoder struct {
	jsonscan.Scanner
}

// value decodes the value at d.I into v. On success d.I is just past it.
func (d *fastDecoder) value(v reflect.Value, p *typePlan) bool {
	c := d.At()
	if p.kind == kindResource {
		return d.resource(v.Addr().Interface().(*rawResource))
	}
	if p.kind == kindUnmarshaler {
		start := d.I
		if !d.Skip() {
			return false
		}
		u, ok := v.Addr().Interface().(json.Unmarshaler)
		return ok && u.UnmarshalJSON(d.Data[start:d.I]) == nil
	}
	if c == 'n' { // null: pointers and slices become nil, the rest is kept
		if !d.Literal("null") {
			return false
		}
		switch p.kind {
		case kindPointer, kindSlice:
			v.SetZero()
			return true
		case kindString, kindBool, kindStruct:
			return true
		}
		return false
	}
	switch p.kind {
	case kindString:
		if c != '"' {
			return false
		}
		s, ok := d.str()
		if ok {
			v.SetString(string(s))
		}
		return ok
	case kindBool:
		switch {
		case c == 't' && d.Literal("true"):
			v.SetBool(true)
			return true
		case c == 'f' && d.Literal("false"):
			v.SetBool(false)
			return true
		}
		return false
	case kindPointer:
		if p.elem.kind == kindUnsupported {
			return false
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.value(v.Elem(), p.elem)
	case kindStruct:
		if c != '{' {
			return false
		}
		return d.object(v, p)
	case kindSlice:
		if c != '[' {
			return false
		}
		return d.array(v, p.elem)
	}
	return false
}

// resource reads a bundle entry's resource: its JSON, referring to the
// input (the reader holds no entry beyond the call that owns the input),
// and its header, decoded as encoding/json would (else readHeader reads it
// later).
func (d *fastDecoder) resource(r *rawResource) bool {
	start, depth := d.I, d.Depth
	if d.At() == '{' {
		var h header
		if d.object(reflect.ValueOf(&h).Elem(), headerPlan()) {
			r.raw, r.hdr = d.Data[start:d.I:d.I], h
			// readHeader keeps invalid UTF-8 as it is where encoding/json
			// (and so h) has U+FFFD: leave such headers to it.
			r.hdrOK = !strings.ContainsRune(h.ResourceType, utf8.RuneError) && !strings.ContainsRune(h.ID, utf8.RuneError)
			return true
		}
		d.I, d.Depth = start, depth
	}
	if !d.Skip() {
		return false
	}
	r.raw = d.Data[start:d.I:d.I]
	return true
}

var headerPlan = sync.OnceValue(func() *typePlan { return planFor(reflect.TypeFor[header]()) })

func (d *fastDecoder) object(v reflect.Value, p *typePlan) bool {
	if !d.Enter() {
		return false
	}
	d.I++ // {
	d.Space()
	if d.At() == '}' {
		d.I++
		d.Depth--
		return true
	}
	var seen uint64
	for {
		if d.At() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok {
			return false
		}
		d.Space()
		if d.At() != ':' {
			return false
		}
		d.I++
		d.Space()
		k := p.field(key)
		switch {
		case k >= 0:
			if seen&(1<<k) != 0 {
				return false // a repeated key: encoding/json merges, we decline
			}
			seen |= 1 << k
			f := &p.fields[k]
			if !d.value(v.Field(f.index), f.plan) {
				return false
			}
		case p.foldMatch(key):
			return false // encoding/json would match it without case
		default:
			if !d.Skip() {
				return false
			}
		}
		d.Space()
		switch d.At() {
		case ',':
			d.I++
			d.Space()
		case '}':
			d.I++
			d.Depth--
			return true
		default:
			return false
		}
	}
}

// field returns the position in p.fields of the field whose key is
// exactly key, or −1.
func (p *typePlan) field(key []byte) int {
	for k := range p.fields {
		if p.fields[k].name == string(key) {
			return k
		}
	}
	return -1
}

// foldMatch reports whether key might match a field the way encoding/json
// matches keys that are not exact: without regard to case (Unicode case
// folding, so any non-ASCII key is taken to match).
func (p *typePlan) foldMatch(key []byte) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for i := range p.fields {
		if strings.EqualFold(p.fields[i].name, string(key)) {
			return true
		}
	}
	return false
}

func (d *fastDecoder) array(v reflect.Value, elem *typePlan) bool {
	if elem.kind == kindUnsupported {
		return false
	}
	if !d.Enter() {
		return false
	}
	d.I++ // [
	d.Space()
	t := v.Type()
	if d.At() == ']' {
		d.I++
		d.Depth--
		v.Set(reflect.MakeSlice(t, 0, 0)) // [] is an empty slice, not nil
		return true
	}
	// Decode straight into v (addressable, unlike a new slice value).
	v.Set(reflect.MakeSlice(t, 0, 4))
	for n := 0; ; n++ {
		if n == v.Cap() {
			g := reflect.MakeSlice(t, n, 2*n)
			reflect.Copy(g, v)
			v.Set(g)
		}
		v.SetLen(n + 1)
		if !d.value(v.Index(n), elem) {
			return false
		}
		d.Space()
		switch d.At() {
		case ',':
			d.I++
			d.Space()
		case ']':
			d.I++
			d.Depth--
			return true
		default:
			return false
		}
	}
}

// str reads the string at d.I (a '"') and returns its content, unquoted;
// false if it is not a valid JSON string.
func (d *fastDecoder) str() ([]byte, bool) {
	start := d.I
	end := d.StringEnd()
	if end < 0 {
		return nil, false
	}
	d.I = end
	return unquote(d.Data[start:end])
}

// unquote converts a quoted JSON string literal to its bytes, as
// encoding/json does (its unquoteBytes, from the Go standard library, BSD
// licence): escapes decoded, invalid UTF-8 and lone surrogates replaced by
// U+FFFD. It refuses what is not a valid JSON string.
func unquote(s []byte) (t []byte, ok bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return
	}
	s = s[1 : len(s)-1]

	// Check for unusual characters. If there are none, then no unquoting
	// is needed, so return a slice of the original bytes.
	r := 0
	for r < len(s) {
		c := s[r]
		if c == '\\' || c == '"' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRune(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(s) {
		return s, true
	}

	b := make([]byte, len(s)+2*utf8.UTFMax)
	w := copy(b, s[0:r])
	for r < len(s) {
		// Out of room? Can only happen if s is full of malformed UTF-8
		// and we're replacing each byte with RuneError.
		if w >= len(b)-2*utf8.UTFMax {
			nb := make([]byte, (len(b)+utf8.UTFMax)*2)
			copy(nb, b[0:w])
			b = nb
		}
		switch c := s[r]; {
		case c == '\\':
			r++
			if r >= len(s) {
				return
			}
			switch s[r] {
			default:
				return
			case '"', '\\', '/': // (encoding/json also accepts \', which its scanner refuses)
				b[w] = s[r]
				r++
				w++
			case 'b':
				b[w] = '\b'
				r++
				w++
			case 'f':
				b[w] = '\f'
				r++
				w++
			case 'n':
				b[w] = '\n'
				r++
				w++
			case 'r':
				b[w] = '\r'
				r++
				w++
			case 't':
				b[w] = '\t'
				r++
				w++
			case 'u':
				r--
				rr := getu4(s[r:])
				if rr < 0 {
					return
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						// A valid pair; consume.
						r += 6
						w += utf8.EncodeRune(b[w:], dec)
						break
					}
					// Invalid surrogate; fall back to replacement rune.
					rr = unicode.ReplacementChar
				}
				w += utf8.EncodeRune(b[w:], rr)
			}

		// Quote, control characters are invalid.
		case c == '"', c < ' ':
			return

		// ASCII
		case c < utf8.RuneSelf:
			b[w] = c
			r++
			w++

		// Coerce to well-formed UTF-8.
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			w += utf8.EncodeRune(b[w:], rr)
		}
	}
	return b[0:w], true
}

// getu4 decodes \uXXXX from the beginning of s, returning the hex value,
// or it returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
