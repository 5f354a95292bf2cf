package bulk

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// header is what the first pass needs from a resource: enough to file it
// under its patient, without decoding it.
type header struct {
	typ, id string
	// ref is the subject (or, failing that, patient) reference; medRef is
	// medicationReference.reference.
	ref, medRef string
}

// errNotObject is a line that is valid JSON but not an object.
var errNotObject = errors.New("not a JSON object: want one FHIR resource per line")

// scanHeader reads the resourceType, id and references of one resource.
// It scans the top level of the object instead of decoding it; anything
// unusual (escapes, keys that differ only in case, odd nesting) falls back
// to encoding/json, so both always agree with the way package fhir reads the
// resource later. The scan does not check that the rest of the line is valid
// JSON: pass 2 does (see worker.read).
func scanHeader(line []byte) (header, error) {
	if h, ok := peekHeader(line); ok {
		return h, nil
	}
	return decodeHeader(line)
}

func decodeHeader(line []byte) (header, error) {
	var raw struct {
		ResourceType        json.RawMessage `json:"resourceType"`
		ID                  json.RawMessage `json:"id"`
		Subject             json.RawMessage `json:"subject"`
		Patient             json.RawMessage `json:"patient"`
		MedicationReference json.RawMessage `json:"medicationReference"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return header{}, errNotObject
		}
		return header{}, err
	}
	var h header
	json.Unmarshal(raw.ResourceType, &h.typ) // a non-string is no resourceType
	json.Unmarshal(raw.ID, &h.id)
	var ref struct {
		Reference string `json:"reference"`
	}
	if json.Unmarshal(raw.Subject, &ref) == nil && ref.Reference != "" {
		h.ref = ref.Reference
	} else if ref = (struct {
		Reference string `json:"reference"`
	}{}); json.Unmarshal(raw.Patient, &ref) == nil {
		h.ref = ref.Reference
	}
	ref.Reference = ""
	if json.Unmarshal(raw.MedicationReference, &ref) == nil {
		h.medRef = ref.Reference
	}
	return h, nil
}

// peekHeader is the fast path of scanHeader. ok is false when the scan
// cannot be sure to agree with encoding/json.
func peekHeader(b []byte) (h header, ok bool) {
	var subject, patient string
	end := scanObject(b, skipSpace(b, 0), func(key []byte, i int) int {
		switch string(key) {
		case "resourceType":
			return scanStringInto(b, i, &h.typ)
		case "id":
			return scanStringInto(b, i, &h.id)
		case "subject":
			return scanReference(b, i, &subject)
		case "patient":
			return scanReference(b, i, &patient)
		case "medicationReference":
			return scanReference(b, i, &h.medRef)
		}
		if foldsTo(key, "resourcetype", "id", "subject", "patient", "medicationreference") {
			return -1 // encoding/json matches keys without case
		}
		return skipValue(b, i)
	})
	if end < 0 || skipSpace(b, end) != len(b) {
		return header{}, false
	}
	h.ref = subject
	if h.ref == "" {
		h.ref = patient
	}
	return h, true
}

// foldsTo reports whether encoding/json might match key to one of the
// lower-case names: equal ignoring case, or not ASCII (Unicode folding maps
// 'ſ' to 's' and the Kelvin sign to 'k').
func foldsTo(key []byte, names ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

// scanObject walks the object starting at b[i], calling f with each key
// and the index of its value; f returns the index after the value or −1.
// It returns the index after the object, or −1.
func scanObject(b []byte, i int, f func(key []byte, value int) int) int {
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		j := bytes.IndexByte(b[i+1:], '"')
		if j < 0 {
			return -1
		}
		key := b[i+1 : i+1+j]
		if bytes.IndexByte(key, '\\') >= 0 {
			return -1
		}
		i = skipSpace(b, i+j+2)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = f(key, skipSpace(b, i+1)); i < 0 {
			return -1
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// scanStringInto reads the string at b[i] into *dst. A value that is not a
// string, or has escapes, returns −1 (the fallback decides).
func scanStringInto(b []byte, i int, dst *string) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	j := bytes.IndexByte(b[i+1:], '"')
	if j < 0 {
		return -1
	}
	s := b[i+1 : i+1+j]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) { // escapes, or bytes encoding/json replaces
		return -1
	}
	*dst = string(s)
	return i + j + 2
}

// scanReference reads the "reference" of the Reference object at b[i].
func scanReference(b []byte, i int, dst *string) int {
	if i < len(b) && b[i] != '{' {
		return -1
	}
	*dst = ""
	return scanObject(b, i, func(key []byte, v int) int {
		if string(key) == "reference" {
			return scanStringInto(b, v, dst)
		}
		if foldsTo(key, "reference") {
			return -1
		}
		return skipValue(b, v)
	})
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index after the JSON value at b[i], or −1. It
// matches brackets and skips strings, but does not validate the value.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		var stack [64]byte
		depth := 0
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				if depth == len(stack) {
					return -1
				}
				stack[depth] = c
				depth++
			case '}', ']':
				if depth == 0 || (c == '}') != (stack[depth-1] == '{') {
					return -1
				}
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// skipString returns the index after the string starting at b[i] == '"',
// or −1. It jumps from quote to quote (IndexByte is vectorised) and checks
// the backslashes before each.
func skipString(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0 // backslashes just before the quote
		for q-1-n > i && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// patientOf returns the patient id a reference names: "Patient/x",
// "https://server/fhir/Patient/x" or "Patient/x/_history/2" all name x.
func patientOf(ref string) (string, bool) {
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id, _, _ := strings.Cut(ref[i+len("Patient/"):], "/")
	return id, id != ""
}

// medicationKey returns the key of a shared Medication a reference names
// ("Medication/x", also as an absolute URL), or "" for a contained or other
// reference.
func medicationKey(ref string) string {
	i := strings.LastIndex(ref, "Medication/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return ""
	}
	id, _, _ := strings.Cut(ref[i+len("Medication/"):], "/")
	if id == "" {
		return ""
	}
	return "Medication/" + id
}
