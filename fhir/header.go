package fhir

import (
	"encoding/json"
	"strings"
)

// readHeader returns the resourceType and id of a resource. It scans the
// top level of the object rather than decoding it, which halves the work of
// reading a bundle; anything unusual (escapes in a key or value, a value that
// is not a string) falls back to encoding/json so that both always agree.
func readHeader(raw []byte) (header, error) {
	if h, ok := peekHeader(raw); ok {
		return h, nil
	}
	var h header
	err := json.Unmarshal(raw, &h)
	return h, err
}

// peekHeader scans a JSON object for its top-level "resourceType" and "id"
// strings. ok is false when the scan cannot be sure to agree with
// encoding/json.
func peekHeader(raw []byte) (h header, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return h, false
	}
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return h, false
		}
		switch raw[i] {
		case '}':
			return h, skipSpace(raw, i+1) == len(raw)
		case ',':
			i++
			continue
		case '"':
		default:
			return h, false
		}
		key, j, ok := scanString(raw, i)
		if !ok {
			return h, false
		}
		i = skipSpace(raw, j)
		if i >= len(raw) || raw[i] != ':' {
			return h, false
		}
		i = skipSpace(raw, i+1)
		var field *string
		switch {
		case key == "resourceType":
			field = &h.ResourceType
		case key == "id":
			field = &h.ID
		case strings.EqualFold(key, "resourceType") || strings.EqualFold(key, "id"):
			return h, false // encoding/json matches keys without case
		}
		if field != nil {
			if i >= len(raw) || raw[i] != '"' {
				return h, false // null or another type: let encoding/json say
			}
			v, j, ok := scanString(raw, i)
			if !ok {
				return h, false
			}
			*field, i = v, j
			continue
		}
		if i = skipValue(raw, i); i < 0 {
			return h, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the string starting at b[i] == '"'. It returns its
// content and the index after the closing quote; ok is false for a string
// with escapes or without an end.
func scanString(b []byte, i int) (string, int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			return "", -1, false
		case '"':
			return string(b[i+1 : j]), j + 1, true
		}
	}
	return "", -1, false
}

// skipValue returns the index after the JSON value starting at b[i], or −1.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return -1
			}
			i = j + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object: a literal ended here
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i > 0 && (b[i-1] == '"' || b[i-1] == '}' || b[i-1] == ']') {
			return i
		}
	}
	return -1
}
