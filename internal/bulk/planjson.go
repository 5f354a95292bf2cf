package bulk

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"ekbom"
)

// appendPlan appends the JSON of plan exactly as encoding/json writes it
// (with SetEscapeHTML(false), without the newline), in about half the time
// (BenchmarkAppendPlan): a plan is some 20 KB, and the reflection-based
// encoder took about a tenth of the CPU of a batch. TestPlanJSONMatchesEncodingJSON checks the bytes
// against encoding/json on thousands of plans, and that every field of the
// plan types is written. A value encoding/json would refuse (NaN) returns
// an error, and the caller falls back to encoding/json.
func appendPlan(b []byte, p *ekbom.Plan) ([]byte, error) {
	e := planEncoder{b: b}
	e.plan(p)
	return e.b, e.err
}

var errUnsupported = errors.New("bulk: value encoding/json cannot write")

type planEncoder struct {
	b   []byte
	err error
}

func (e *planEncoder) raw(s string)      { e.b = append(e.b, s...) }
func (e *planEncoder) str(s string)      { e.b = appendJSONString(e.b, s) }
func (e *planEncoder) key(k string)      { e.b = append(e.b, k...) } // `,"name":` written literally
func (e *planEncoder) int(n int)         { e.b = strconv.AppendInt(e.b, int64(n), 10) }
func (e *planEncoder) bool(v bool)       { e.b = strconv.AppendBool(e.b, v) }
func (e *planEncoder) date(d ekbom.Date) { e.str(d.String()) }

func (e *planEncoder) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.err = errUnsupported
		e.b = append(e.b, '0')
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

func (e *planEncoder) strings(list []string) {
	if list == nil {
		e.raw("null")
		return
	}
	e.b = append(e.b, '[')
	for i, s := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(s)
	}
	e.b = append(e.b, ']')
}

// list writes a slice with f for each element: null when nil, as
// encoding/json does.
func list[T any](e *planEncoder, xs []T, f func(*T)) {
	if xs == nil {
		e.raw("null")
		return
	}
	e.b = append(e.b, '[')
	for i := range xs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		f(&xs[i])
	}
	e.b = append(e.b, ']')
}

func (e *planEncoder) plan(p *ekbom.Plan) {
	e.key(`{"patient_id":`)
	e.str(p.PatientID)
	e.key(`,"as_of":`)
	e.date(p.AsOf)
	e.key(`,"engine_version":`)
	e.str(p.EngineVersion)
	e.key(`,"knowledge_version":`)
	e.str(p.KnowledgeVersion)
	e.key(`,"pathway":`)
	e.str(p.Pathway)
	e.key(`,"severity":{"irls":`)
	if p.Severity.IRLS == nil {
		e.raw("null")
	} else {
		e.int(*p.Severity.IRLS)
	}
	e.key(`,"band":`)
	e.str(p.Severity.Band)
	e.key(`},"status":`)
	e.str(string(p.Status))
	e.key(`,"status_reasons":`)
	e.strings(p.StatusReasons)
	e.key(`,"findings":`)
	list(e, p.Findings, e.finding)
	e.key(`,"steps":`)
	list(e, p.Steps, e.step)
	e.key(`,"warnings":`)
	list(e, p.Warnings, e.warning)
	e.key(`,"avoid":`)
	list(e, p.Avoid, e.avoid)
	e.key(`,"monitoring":`)
	list(e, p.Monitoring, e.monitor)
	e.key(`,"missing":`)
	e.strings(p.Missing)
	e.key(`,"conflicts":`)
	list(e, p.Conflicts, e.conflict)
	e.key(`,"sources":`)
	e.sources(p.Sources)
	e.b = append(e.b, '}')
}

func (e *planEncoder) finding(f *ekbom.Finding) {
	e.key(`{"code":`)
	e.str(f.Code)
	e.key(`,"text":`)
	e.str(f.Text)
	e.key(`,"because":`)
	e.strings(f.Because)
	e.b = append(e.b, '}')
}

func (e *planEncoder) step(s *ekbom.Step) {
	e.key(`{"id":`)
	e.str(s.ID)
	e.key(`,"title":`)
	e.str(s.Title)
	e.key(`,"recommendations":`)
	list(e, s.Recommendations, e.recommendation)
	e.b = append(e.b, '}')
}

func (e *planEncoder) recommendation(r *ekbom.Recommendation) {
	e.key(`{"rule":`)
	e.str(r.Rule)
	e.key(`,"action":`)
	e.str(string(r.Action))
	e.key(`,"target":`)
	e.str(r.Target)
	if r.Class != "" {
		e.key(`,"class":`)
		e.str(r.Class)
	}
	if r.Dose != nil {
		e.key(`,"dose":`)
		e.dose(r.Dose)
	}
	e.key(`,"text":`)
	e.str(r.Text)
	if r.PatientText != "" {
		e.key(`,"patient_text":`)
		e.str(r.PatientText)
	}
	e.key(`,"strength":`)
	e.str(r.Strength)
	e.key(`,"certainty":`)
	e.str(r.Certainty)
	e.key(`,"grade_verified":`)
	e.bool(r.GradeVerified)
	e.key(`,"sources":`)
	e.strings(r.Sources)
	e.key(`,"because":`)
	e.strings(r.Because)
	e.key(`,"priority":`)
	e.int(r.Priority)
	if len(r.Conflicts) > 0 {
		e.key(`,"conflicts":`)
		e.strings(r.Conflicts)
	}
	if len(r.Schedule) > 0 {
		e.key(`,"schedule":`)
		list(e, r.Schedule, e.scheduleItem)
	}
	e.b = append(e.b, '}')
}

func (e *planEncoder) dose(d *ekbom.Dose) {
	e.key(`{"text":`)
	e.str(d.Text)
	for _, f := range []struct {
		key string
		v   *float64
	}{{`,"amount_mg":`, d.AmountMg}, {`,"times_per_day":`, d.TimesPerDay}, {`,"daily_mg":`, d.DailyMg}, {`,"max_daily_mg":`, d.MaxDailyMg}} {
		if f.v != nil {
			e.key(f.key)
			e.float(*f.v)
		}
	}
	if d.Route != "" {
		e.key(`,"route":`)
		e.str(d.Route)
	}
	e.b = append(e.b, '}')
}

func (e *planEncoder) scheduleItem(s *ekbom.ScheduleItem) {
	e.key(`{"date":`)
	e.date(s.Date)
	e.key(`,"daily_mg":`)
	e.float(s.DailyMg)
	e.key(`,"text":`)
	e.str(s.Text)
	e.b = append(e.b, '}')
}

func (e *planEncoder) warning(w *ekbom.Warning) {
	e.key(`{"code":`)
	e.str(w.Code)
	e.key(`,"severity":`)
	e.str(w.Severity)
	e.key(`,"text":`)
	e.str(w.Text)
	e.key(`,"because":`)
	e.strings(w.Because)
	if len(w.Sources) > 0 {
		e.key(`,"sources":`)
		e.strings(w.Sources)
	}
	e.b = append(e.b, '}')
}

func (e *planEncoder) avoid(a *ekbom.Avoid) {
	e.key(`{"target":`)
	e.str(a.Target)
	if a.Class != "" {
		e.key(`,"class":`)
		e.str(a.Class)
	}
	e.key(`,"text":`)
	e.str(a.Text)
	e.key(`,"strength":`)
	e.str(a.Strength)
	e.key(`,"certainty":`)
	e.str(a.Certainty)
	e.key(`,"grade_verified":`)
	e.bool(a.GradeVerified)
	e.key(`,"sources":`)
	e.strings(a.Sources)
	e.key(`,"currently_taking":`)
	e.bool(a.CurrentlyTaking)
	e.b = append(e.b, '}')
}

func (e *planEncoder) monitor(m *ekbom.Monitor) {
	e.key(`{"what":`)
	e.str(m.What)
	e.key(`,"due":`)
	e.date(m.Due)
	e.key(`,"text":`)
	e.str(m.Text)
	e.b = append(e.b, '}')
}

func (e *planEncoder) conflict(c *ekbom.ConflictNote) {
	e.key(`{"id":`)
	e.str(c.ID)
	e.key(`,"topic":`)
	e.str(c.Topic)
	e.key(`,"resolution":`)
	e.str(c.Resolution)
	e.key(`,"positions":`)
	e.strings(c.Positions)
	e.b = append(e.b, '}')
}

func (e *planEncoder) sources(m map[string]ekbom.SourceRef) {
	if m == nil {
		e.raw("null")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(k)
		s := m[k]
		e.key(`:{"citation":`)
		e.str(s.Citation)
		if s.URL != "" {
			e.key(`,"url":`)
			e.str(s.URL)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

const hexDigits = "0123456789abcdef"

// SWAR constants: a word of 0x01 bytes and of 0x80 bytes.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// appendJSONString is encoding/json's string encoding without HTML
// escaping. Runs of plain ASCII are skipped eight bytes at a time.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip words of 8 bytes with no control character, quote,
		// backslash or non-ASCII byte.
		for ; i+8 <= len(s); i += 8 {
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			q := x ^ (lsb * '"')
			bs := x ^ (lsb * '\\')
			if ((x-lsb*0x20)&^x|(q-lsb)&^q|(bs-lsb)&^bs|x)&msb != 0 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
