package sqlstore

import (
	"encoding/binary"
	"encoding/json"
)

// validJSON reports whether data is valid JSON, as json.Valid does.
// SaveCardsServed checks every plan (about 25 KB for a patient-view call),
// and json.Valid's byte-at-a-time state machine takes several times longer
// than this strict scanner. The scanner only ever accepts valid JSON; what
// it refuses is checked again by json.Valid, so the answer is json.Valid's
// in every case (jsonvalid_test.go compares the two).
func validJSON(data []byte) bool {
	return fastValid(data) || json.Valid(data)
}

// maxValidDepth is the nesting depth beyond which fastValid refuses
// (json.Valid allows 10,000).
const maxValidDepth = 1000

// fastValid reports whether data is one JSON value with optional
// whitespace around it. It may refuse valid JSON nested deeper than
// maxValidDepth.
func fastValid(data []byte) bool {
	v := validator{data: data}
	v.space()
	if !v.value() {
		return false
	}
	v.space()
	return v.i == len(data)
}

type validator struct {
	data  []byte
	i     int
	depth int
}

func (v *validator) at() byte {
	if v.i < len(v.data) {
		return v.data[v.i]
	}
	return 0
}

func (v *validator) space() {
	i, s := v.i, v.data
	for i < len(s) {
		if c := s[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i++
		for i+8 <= len(s) && binary.LittleEndian.Uint64(s[i:]) == 0x2020202020202020 {
			i += 8
		}
	}
	v.i = i
}

func (v *validator) literal(lit string) bool {
	if len(v.data)-v.i >= len(lit) && string(v.data[v.i:v.i+len(lit)]) == lit {
		v.i += len(lit)
		return true
	}
	return false
}

// value moves past the value at i.
func (v *validator) value() bool {
	switch c := v.at(); {
	case c == '"':
		return v.str()
	case c == '{':
		return v.container('}')
	case c == '[':
		return v.container(']')
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return v.number()
	}
	return false
}

// container moves past the object or array at i, which ends with end.
func (v *validator) container(end byte) bool {
	if v.depth++; v.depth > maxValidDepth {
		return false
	}
	v.i++
	v.space()
	if v.at() == end {
		v.i++
		v.depth--
		return true
	}
	for {
		if end == '}' {
			if v.at() != '"' || !v.str() {
				return false
			}
			v.space()
			if v.at() != ':' {
				return false
			}
			v.i++
			v.space()
		}
		if !v.value() {
			return false
		}
		v.space()
		switch v.at() {
		case ',':
			v.i++
			v.space()
		case end:
			v.i++
			v.depth--
			return true
		default:
			return false
		}
	}
}

// str moves past the string at i: no control characters, only JSON
// escapes (invalid UTF-8 is valid, as json.Valid has it).
func (v *validator) str() bool {
	s := v.data
	for j := v.i + 1; j < len(s); j++ {
		for j < len(s) && plainByte[s[j]] {
			j++
		}
		if j == len(s) {
			break
		}
		switch c := s[j]; {
		case c == '"':
			v.i = j + 1
			return true
		case c == '\\':
			j++
			if j == len(s) {
				return false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) || !isHex(s[j+1]) || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) {
					return false
				}
				j += 4
			default:
				return false
			}
		case c < ' ':
			return false
		}
	}
	return false
}

// plainByte marks the bytes that stand for themselves in a JSON string:
// not a quote, a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number moves past -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number() bool {
	digits := func() bool {
		start := v.i
		for v.i < len(v.data) && '0' <= v.data[v.i] && v.data[v.i] <= '9' {
			v.i++
		}
		return v.i > start
	}
	if v.at() == '-' {
		v.i++
	}
	switch c := v.at(); {
	case c == '0':
		v.i++
	case '1' <= c && c <= '9':
		digits()
	default:
		return false
	}
	if v.at() == '.' {
		v.i++
		if !digits() {
			return false
		}
	}
	if c := v.at(); c == 'e' || c == 'E' {
		v.i++
		if c := v.at(); c == '+' || c == '-' {
			v.i++
		}
		if !digits() {
			return false
		}
	}
	return true
}
