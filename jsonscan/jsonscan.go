// Package jsonscan is the strict one-pass JSON scanner shared by the fast
// decoding paths (fhir, cdshooks) and the store's validity check: the
// lexical part, whitespace, literals, strings, numbers and whole values,
// checked as encoding/json's scanner checks them.
//
// It accepts only valid JSON. Strings may hold invalid UTF-8, as in
// encoding/json, but no control characters and only JSON escapes. It
// refuses containers nested deeper than a limit (encoding/json allows
// 10,000), so a caller that falls back to encoding/json when the scanner
// refuses gives encoding/json's answer in every case.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit of a Scanner whose MaxDepth is 0,
// and of Valid.
const DefaultMaxDepth = 1000

// Scanner is a strict JSON scanner over Data; I is the next byte and Depth
// the number of containers entered and not yet left.
type Scanner struct {
	Data  []byte
	I     int
	Depth int
	// MaxDepth is the deepest nesting accepted; 0 means DefaultMaxDepth.
	MaxDepth int
}

// Valid reports whether data is one JSON value with optional whitespace
// around it. It may refuse valid JSON nested deeper than DefaultMaxDepth.
func Valid(data []byte) bool {
	s := Scanner{Data: data, MaxDepth: DefaultMaxDepth}
	s.Space()
	if !s.Skip() {
		return false
	}
	s.Space()
	return s.I == len(data)
}

// At returns the byte at I, or 0 at the end.
func (s *Scanner) At() byte {
	if s.I < len(s.Data) {
		return s.Data[s.I]
	}
	return 0
}

// Space moves past JSON whitespace.
func (s *Scanner) Space() {
	i, d := s.I, s.Data
	for i < len(d) {
		if c := d[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i++
		// Indentation: eight spaces at a time.
		for i+8 <= len(d) && binary.LittleEndian.Uint64(d[i:]) == 0x2020202020202020 {
			i += 8
		}
	}
	s.I = i
}

// Literal moves past lit (true, false, null) at I.
func (s *Scanner) Literal(lit string) bool {
	if len(s.Data)-s.I >= len(lit) && string(s.Data[s.I:s.I+len(lit)]) == lit {
		s.I += len(lit)
		return true
	}
	return false
}

// Enter counts a container opened at I; false if that nests it deeper
// than the limit. A container that is closed again is left with Depth--.
func (s *Scanner) Enter() bool {
	s.Depth++
	max := s.MaxDepth
	if max == 0 {
		max = DefaultMaxDepth
	}
	return s.Depth <= max
}

// SkipString moves past the string at I (a '"'), checking it is a valid
// JSON string: no control characters, only JSON escapes. Invalid UTF-8 is
// valid, as encoding/json's scanner has it.
func (s *Scanner) SkipString() bool {
	d := s.Data
	for j := s.I + 1; j < len(d); j++ {
		for j < len(d) && plainByte[d[j]] {
			j++ // the common case, in a tight loop
		}
		if j == len(d) {
			break
		}
		switch c := d[j]; {
		case c == '"':
			s.I = j + 1
			return true
		case c == '\\':
			j++
			if !validEscape(d, j) {
				return false
			}
			if d[j] == 'u' {
				j += 4
			}
		case c < ' ':
			return false
		}
	}
	return false
}

// String content flags of String.
const (
	Escape   = 1 << iota // a backslash escape
	NonASCII             // a byte ≥ 0x80
)

// String is SkipString that also reports what the string holds: Escape
// and NonASCII flags. With neither, the content is its text.
func (s *Scanner) String() (flags int, ok bool) {
	d := s.Data
	for j := s.I + 1; j < len(d); j++ {
		for j < len(d) && asciiByte[d[j]] {
			j++
		}
		if j == len(d) {
			break
		}
		switch c := d[j]; {
		case c == '"':
			s.I = j + 1
			return flags, true
		case c == '\\':
			flags |= Escape
			j++
			if !validEscape(d, j) {
				return 0, false
			}
			if d[j] == 'u' {
				j += 4
			}
		case c < ' ':
			return 0, false
		case c >= utf8.RuneSelf:
			flags |= NonASCII
		}
	}
	return 0, false
}

// validEscape reports whether d[j:] starts a JSON escape after its
// backslash: one of "\/bfnrt, or u and four hex digits.
func validEscape(d []byte, j int) bool {
	if j >= len(d) {
		return false
	}
	switch d[j] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		return j+4 < len(d) && isHex(d[j+1]) && isHex(d[j+2]) && isHex(d[j+3]) && isHex(d[j+4])
	}
	return false
}

// StringEnd returns the index just past the string starting at I (a '"'),
// or −1 if it has no end. It does not check the content: a caller
// unquotes or checks it.
func (s *Scanner) StringEnd() int {
	for j := s.I + 1; j < len(s.Data); {
		k := bytes.IndexByte(s.Data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// The quote ends the string unless an odd number of backslashes
		// escape it.
		n := 0
		for b := j - 1; b > s.I && s.Data[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
	return -1
}

// plainByte marks the bytes that stand for themselves in a JSON string:
// not a quote, a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// asciiByte is plainByte without the bytes ≥ 0x80.
var asciiByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Number moves past the JSON number at I:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) Number() bool {
	if s.At() == '-' {
		s.I++
	}
	switch c := s.At(); {
	case c == '0':
		s.I++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.At() == '.' {
		s.I++
		if !s.digits() {
			return false
		}
	}
	if c := s.At(); c == 'e' || c == 'E' {
		s.I++
		if c := s.At(); c == '+' || c == '-' {
			s.I++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits moves past [0-9]* and reports whether there was one.
func (s *Scanner) digits() bool {
	start := s.I
	for s.I < len(s.Data) && '0' <= s.Data[s.I] && s.Data[s.I] <= '9' {
		s.I++
	}
	return s.I > start
}

// Skip moves past the value at I, checking it is valid JSON nested no
// deeper than the limit.
func (s *Scanner) Skip() bool {
	switch c := s.At(); {
	case c == '"':
		return s.SkipString()
	case c == '{' || c == '[':
		return s.container(c + 2) // '}' and ']'
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.Number()
	}
	return false
}

// container moves past the object or array at I, which ends with end.
func (s *Scanner) container(end byte) bool {
	if !s.Enter() {
		return false
	}
	s.I++
	s.Space()
	if s.At() == end {
		s.I++
		s.Depth--
		return true
	}
	for {
		if end == '}' {
			if s.At() != '"' || !s.SkipString() {
				return false
			}
			s.Space()
			if s.At() != ':' {
				return false
			}
			s.I++
			s.Space()
		}
		if !s.Skip() {
			return false
		}
		s.Space()
		switch s.At() {
		case ',':
			s.I++
			s.Space()
		case end:
			s.I++
			s.Depth--
			return true
		default:
			return false
		}
	}
}
