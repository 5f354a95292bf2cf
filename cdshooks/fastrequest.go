package cdshooks

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A fast path for decoding a service call.
//
// A patient-view call is mostly prefetch: about 75 KB of FHIR Bundles that
// fhir.ReadPrefetch parses anyway. json.Unmarshal into Request validates
// the whole body, scans it a second time to find the end of each prefetch
// value and copies it. decodeRequestFast does one strict pass: it checks
// the whole body is valid JSON, decodes the few top-level fields, and
// keeps each prefetch value (and extension) as a slice of the body, capped
// so that an append cannot write into the body.
//
// For what it accepts it gives exactly the Request json.Unmarshal gives;
// it declines (returns false) everything else, and DecodeRequest then
// decodes with encoding/json, so every error message is what it was:
// input that is not valid JSON, a body that is not an object, a top-level
// or prefetch key with an escape or a non-ASCII byte, a key that matches a
// field only without regard to case ("Hook"), a repeated field, or a value
// of the wrong type. The small objects context and fhirAuthorization are
// decoded by json.Unmarshal from their slice (any error declines).
// fastrequest_test.go holds it to json.Unmarshal on the test requests and
// thousands of mutations of them, and has a fuzz target.

// maxFastDepth is the nesting depth beyond which the fast path declines
// (encoding/json itself allows 10,000).
const maxFastDepth = 1000

// Bits of the top-level fields seen, to decline repeats.
const (
	seenHook = 1 << iota
	seenHookInstance
	seenFHIRServer
	seenFHIRAuthorization
	seenContext
	seenPrefetch
	seenExtension
)

// requestFields are the JSON names of Request's fields.
var requestFields = []string{"hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch", "extension"}

// decodeRequestFast decodes data into req, which must be zero, when data
// is a request of the shape it handles; false means it declined and req
// may be partly written.
func decodeRequestFast(data []byte, req *Request) bool {
	d := scanner{data: data}
	d.space()
	if d.at() != '{' {
		return false
	}
	seen := 0
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	ok := d.object(func(key []byte, plain bool) bool {
		if !plain {
			return false
		}
		switch string(key) {
		case "hook":
			return once(seenHook) && d.stringValue(&req.Hook)
		case "hookInstance":
			return once(seenHookInstance) && d.stringValue(&req.HookInstance)
		case "fhirServer":
			return once(seenFHIRServer) && d.stringValue(&req.FHIRServer)
		case "fhirAuthorization":
			return once(seenFHIRAuthorization) && d.unmarshalValue(&req.FHIRAuthorization)
		case "context":
			return once(seenContext) && d.unmarshalValue(&req.Context)
		case "extension":
			if !once(seenExtension) {
				return false
			}
			raw, ok := d.rawValue()
			req.Extension = raw
			return ok
		case "prefetch":
			if !once(seenPrefetch) {
				return false
			}
			switch d.at() {
			case 'n':
				return d.literal("null")
			case '{':
				req.Prefetch = map[string]json.RawMessage{}
				return d.object(func(key []byte, plain bool) bool {
					if !plain {
						return false
					}
					raw, ok := d.rawValue()
					req.Prefetch[string(key)] = raw // a repeated key: the last wins, as in encoding/json
					return ok
				})
			}
			return false
		}
		for _, f := range requestFields {
			if strings.EqualFold(string(key), f) {
				return false // encoding/json would set f
			}
		}
		return d.skip() // an unknown field
	})
	if !ok {
		return false
	}
	d.space()
	return d.i == len(d.data)
}

// scanner is a strict JSON scanner over data; i is the next byte.
type scanner struct {
	data  []byte
	i     int
	depth int
}

// at returns the byte at i, or 0 at the end.
func (d *scanner) at() byte {
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

// space moves past JSON whitespace.
func (d *scanner) space() {
	i, s := d.i, d.data
	for i < len(s) {
		if c := s[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i++
		// Indentation: eight spaces at a time.
		for i+8 <= len(s) && binary.LittleEndian.Uint64(s[i:]) == 0x2020202020202020 {
			i += 8
		}
	}
	d.i = i
}

// literal moves past lit (true, false, null) at i.
func (d *scanner) literal(lit string) bool {
	if len(d.data)-d.i >= len(lit) && string(d.data[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// object moves past the object at i (a '{'), calling member with each key
// once i is at its value; member must move past the value. plain reports
// the key has no escape and only ASCII bytes, so that key is its text.
func (d *scanner) object(member func(key []byte, plain bool) bool) bool {
	if d.depth++; d.depth > maxFastDepth {
		return false
	}
	d.i++ // '{'
	d.space()
	if d.at() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		if d.at() != '"' {
			return false
		}
		start := d.i + 1
		flags, ok := d.str()
		if !ok {
			return false
		}
		key := d.data[start : d.i-1]
		d.space()
		if d.at() != ':' {
			return false
		}
		d.i++
		d.space()
		if !member(key, flags == 0) {
			return false
		}
		d.space()
		switch d.at() {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

// String content flags of str.
const (
	strEscape   = 1 << iota // a backslash escape
	strNonASCII             // a byte ≥ 0x80
)

// str moves past the string at i (a '"'), checking it is a valid JSON
// string: no control characters, only JSON escapes. Invalid UTF-8 is
// valid, as encoding/json's scanner has it.
func (d *scanner) str() (flags int, ok bool) {
	s := d.data
	for j := d.i + 1; j < len(s); j++ {
		for j < len(s) && plainByte[s[j]] {
			j++ // the common case, in a tight loop
		}
		if j == len(s) {
			break
		}
		switch c := s[j]; {
		case c == '"':
			d.i = j + 1
			return flags, true
		case c == '\\':
			flags |= strEscape
			j++
			if j == len(s) {
				return 0, false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) || !isHex(s[j+1]) || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) {
					return 0, false
				}
				j += 4
			default:
				return 0, false
			}
		case c < ' ':
			return 0, false
		case c >= utf8.RuneSelf:
			flags |= strNonASCII
		}
	}
	return 0, false
}

// plainByte marks the bytes a JSON string holds as they are: not a quote,
// a backslash, a control character or a byte of a multi-byte character.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skip moves past the value at i, checking it is valid JSON.
func (d *scanner) skip() bool {
	switch c := d.at(); {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{':
		return d.object(func([]byte, bool) bool { return d.skip() })
	case c == '[':
		if d.depth++; d.depth > maxFastDepth {
			return false
		}
		d.i++
		d.space()
		if d.at() == ']' {
			d.i++
			d.depth--
			return true
		}
		for {
			if !d.skip() {
				return false
			}
			d.space()
			switch d.at() {
			case ',':
				d.i++
				d.space()
			case ']':
				d.i++
				d.depth--
				return true
			default:
				return false
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return false
}

// number moves past the JSON number at i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *scanner) number() bool {
	digits := func() bool {
		start := d.i
		for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
			d.i++
		}
		return d.i > start
	}
	if d.at() == '-' {
		d.i++
	}
	switch c := d.at(); {
	case c == '0':
		d.i++
	case '1' <= c && c <= '9':
		digits()
	default:
		return false
	}
	if d.at() == '.' {
		d.i++
		if !digits() {
			return false
		}
	}
	if c := d.at(); c == 'e' || c == 'E' {
		d.i++
		if c := d.at(); c == '+' || c == '-' {
			d.i++
		}
		if !digits() {
			return false
		}
	}
	return true
}

// rawValue moves past the value at i and returns it as a slice of the
// input whose capacity ends with it, as json.RawMessage holds it.
func (d *scanner) rawValue() (json.RawMessage, bool) {
	start := d.i
	if !d.skip() {
		return nil, false
	}
	return json.RawMessage(d.data[start:d.i:d.i]), true
}

// stringValue decodes the value at i into a string field: null leaves it
// as it is; another type declines.
func (d *scanner) stringValue(dst *string) bool {
	switch d.at() {
	case 'n':
		return d.literal("null")
	case '"':
		start := d.i
		flags, ok := d.str()
		if !ok {
			return false
		}
		s := d.data[start+1 : d.i-1]
		if flags&strEscape == 0 && (flags&strNonASCII == 0 || utf8.Valid(s)) {
			*dst = string(s)
			return true
		}
		// Escapes or invalid UTF-8: encoding/json's own unquoting.
		return json.Unmarshal(d.data[start:d.i], dst) == nil
	}
	return false
}

// unmarshalValue decodes the value at i with json.Unmarshal; an error
// declines.
func (d *scanner) unmarshalValue(dst any) bool {
	start := d.i
	if !d.skip() {
		return false
	}
	return json.Unmarshal(d.data[start:d.i], dst) == nil
}
