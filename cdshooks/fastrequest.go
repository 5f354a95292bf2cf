package cdshooks

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"ekbom/jsonscan"
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
	d := scanner{jsonscan.Scanner{Data: data, MaxDepth: maxFastDepth}}
	d.Space()
	if d.At() != '{' {
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
			switch d.At() {
			case 'n':
				return d.Literal("null")
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
		return d.Skip() // an unknown field
	})
	if !ok {
		return false
	}
	d.Space()
	return d.I == len(d.Data)
}

// scanner is the shared strict JSON scanner with the request's own
// decoding on top.
type scanner struct {
	jsonscan.Scanner
}

// object moves past the object at I (a '{'), calling member with each key
// once I is at its value; member must move past the value. plain reports
// the key has no escape and only ASCII bytes, so that key is its text.
func (d *scanner) object(member func(key []byte, plain bool) bool) bool {
	if !d.Enter() {
		return false
	}
	d.I++ // '{'
	d.Space()
	if d.At() == '}' {
		d.I++
		d.Depth--
		return true
	}
	for {
		if d.At() != '"' {
			return false
		}
		start := d.I + 1
		flags, ok := d.String()
		if !ok {
			return false
		}
		key := d.Data[start : d.I-1]
		d.Space()
		if d.At() != ':' {
			return false
		}
		d.I++
		d.Space()
		if !member(key, flags == 0) {
			return false
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

// rawValue moves past the value at i and returns it as a slice of the
// input whose capacity ends with it, as json.RawMessage holds it.
func (d *scanner) rawValue() (json.RawMessage, bool) {
	start := d.I
	if !d.Skip() {
		return nil, false
	}
	return json.RawMessage(d.Data[start:d.I:d.I]), true
}

// stringValue decodes the value at i into a string field: null leaves it
// as it is; another type declines.
func (d *scanner) stringValue(dst *string) bool {
	switch d.At() {
	case 'n':
		return d.Literal("null")
	case '"':
		start := d.I
		flags, ok := d.String()
		if !ok {
			return false
		}
		s := d.Data[start+1 : d.I-1]
		if flags&jsonscan.Escape == 0 && (flags&jsonscan.NonASCII == 0 || utf8.Valid(s)) {
			*dst = string(s)
			return true
		}
		// Escapes or invalid UTF-8: encoding/json's own unquoting.
		return json.Unmarshal(d.Data[start:d.I], dst) == nil
	}
	return false
}

// unmarshalValue decodes the value at i with json.Unmarshal; an error
// declines.
func (d *scanner) unmarshalValue(dst any) bool {
	start := d.I
	if !d.Skip() {
		return false
	}
	return json.Unmarshal(d.Data[start:d.I], dst) == nil
}
