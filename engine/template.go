package engine

import (
	"slices"
	"strings"

	"ekbom/kb"
)

// tmpl is a rule text split at its {placeholders} once, at New, so that
// filling it costs one exact allocation. It renders exactly as kb.Render
// does, which it calls to word the error when a placeholder has no value.
type tmpl struct {
	raw   string
	parts []tmplPart // nil when raw has no placeholder
}

// tmplPart is literal text followed, when hasKey, by a placeholder.
type tmplPart struct {
	lit    string
	key    string
	hasKey bool
}

// compileTmpl splits text the way kb.Render scans it: a placeholder runs
// from a '{' to the next '}'; a '{' without one is literal text.
func compileTmpl(text string) tmpl {
	t := tmpl{raw: text}
	if strings.IndexByte(text, '{') < 0 {
		return t
	}
	for {
		i := strings.IndexByte(text, '{')
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: text})
			break
		}
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			t.parts = append(t.parts, tmplPart{lit: text})
			break
		}
		t.parts = append(t.parts, tmplPart{lit: text[:i], key: text[i+1 : i+j], hasKey: true})
		text = text[i+j+1:]
	}
	return t
}

// textVars are the values of a rule text's placeholders: a handful of
// pairs, found by linear search (cheaper than a map for so few).
type textVars []textVar

type textVar struct{ key, value string }

func (vs textVars) get(key string) (string, bool) {
	for _, v := range vs {
		if v.key == key {
			return v.value, true
		}
	}
	return "", false
}

// with returns vs with key set to value.
func (vs textVars) with(key, value string) textVars {
	for i := range vs {
		if vs[i].key == key {
			out := slices.Clone(vs)
			out[i].value = value
			return out
		}
	}
	return append(vs[:len(vs):len(vs)], textVar{key, value})
}

// asMap returns vs as kb.Render takes them.
func (vs textVars) asMap() map[string]string {
	m := make(map[string]string, len(vs))
	for _, v := range vs {
		m[v.key] = v.value
	}
	return m
}

// render is kb.Render(t.raw, vars).
func (t *tmpl) render(vars textVars) (string, error) {
	if t.parts == nil {
		return t.raw, nil
	}
	var vals [8]string
	if len(t.parts) > len(vals) {
		return kb.Render(t.raw, vars.asMap())
	}
	n := 0
	for i, p := range t.parts {
		n += len(p.lit)
		if p.hasKey {
			v, ok := vars.get(p.key)
			if !ok {
				return kb.Render(t.raw, vars.asMap()) // words the error
			}
			vals[i] = v
			n += len(v)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range t.parts {
		b.WriteString(p.lit)
		b.WriteString(vals[i])
	}
	return b.String(), nil
}
