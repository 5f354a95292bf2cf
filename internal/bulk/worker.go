package bulk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/fhir"
	"ekbom/intake"
)

// outcome kinds.
const (
	outNone       = iota // nothing to write but problems (only repeats)
	outPlanned           // a plan
	outInvalid           // rejected by the reader or intake
	outOutOfScope        // under 18
	outFailed            // the engine failed
	outMissing           // resources without their Patient
)

// outcome is what a worker made of one patient.
type outcome struct {
	seq      int64
	patient  string // "Patient/x"
	kind     int
	line     []byte // the plan line, with its newline
	problems []Problem
	facts    facts
}

// worker plans patients; each pass-2 goroutine has its own.
type worker struct {
	r      *run
	bundle bytes.Buffer
	enc    *json.Encoder
	plan   bytes.Buffer
	where  []loc // bundle entry → input line
	size   int   // the longest plan line so far
}

func (r *run) newWorker() *worker {
	w := &worker{r: r}
	w.enc = json.NewEncoder(&w.plan)
	w.enc.SetEscapeHTML(false)
	return w
}

// patient plans one patient exactly as `ekbom assess` plans a Bundle:
// fhir.ReadBundle, intake.Normalize, engine.Evaluate, and the reader's notes
// appended to missing.
func (w *worker) patient(j *job) *outcome {
	r := w.r
	ref := "Patient/" + j.pid
	o := &outcome{seq: j.seq, patient: ref, problems: j.pre}
	if len(j.recs) == 0 {
		return o
	}
	if !j.recs[0].patient {
		first := j.recs[0]
		o.kind = outMissing
		o.problems = append(o.problems, Problem{Kind: KindMissingPatient, File: r.inputs[first.file].Name, Line: first.line, Patient: ref,
			Message: fmt.Sprintf("%d resource%s about %s, whose Patient resource is not in the export (the first is here): no plan",
				len(j.recs), plural(len(j.recs)), ref)})
		return o
	}
	if len(j.recs) == 1 {
		o.problems = append(o.problems, Problem{Kind: KindPatientOnly, File: r.inputs[j.recs[0].file].Name, Line: j.recs[0].line, Patient: ref,
			Message: "the Patient has no other resources: planned from age and sex alone"})
	}
	res, err := w.read(j, o)
	if res == nil && err == nil { // the Patient line itself was not valid JSON
		o.kind = outMissing
		if len(j.recs) > 0 {
			first := j.recs[0]
			o.problems = append(o.problems, Problem{Kind: KindMissingPatient, File: r.inputs[first.file].Name, Line: first.line, Patient: ref,
				Message: fmt.Sprintf("%d resource%s about %s, whose Patient resource could not be read: no plan", len(j.recs), plural(len(j.recs)), ref)})
		}
		return o
	}
	if err != nil {
		return w.reject(o, err)
	}
	p := res.Patient
	if err := intake.Normalize(p, r.b, intake.Options{Today: r.opt.AsOf}); err != nil {
		return w.reject(o, res.Locate(err))
	}
	plan, err := r.e.Evaluate(p)
	if err != nil {
		return w.reject(o, err)
	}
	for _, n := range res.Notes {
		plan.Missing = append(plan.Missing, "FHIR "+n.Resource+": "+n.Message)
	}
	// The plan shape with the patient reference first.
	line := make([]byte, 0, w.size+len(ref)+64)
	line = append(line, `{"patient":`...)
	line = appendJSONString(line, ref)
	start := len(line)
	line, err = appendPlan(line, plan)
	if err != nil { // what encoding/json would do, error included
		w.plan.Reset()
		if err := w.enc.Encode(plan); err != nil {
			o.kind = outFailed
			o.problems = append(o.problems, Problem{Kind: KindEvaluate, Patient: ref, Message: "cannot encode the plan: " + err.Error()})
			return o
		}
		line = append(line[:start], bytes.TrimSuffix(w.plan.Bytes(), []byte("\n"))...)
	}
	if len(line) > start+2 { // {"patient":…,"patient_id":…}
		line[start] = ','
	} else { // an empty object
		line = line[:start]
		line = append(line, '}')
	}
	line = append(line, '\n')
	w.size = max(w.size, len(line))
	o.kind = outPlanned
	o.line = line
	o.facts = r.factsOf(p, plan, res)
	return o
}

// read builds the patient's Bundle and reads it. A Bundle that is not
// valid JSON has a bad line in it: each line is then checked on its own,
// the bad ones reported and left out, and the rest read again. res is nil
// with a nil error when the Patient line itself was bad.
func (w *worker) read(j *job, o *outcome) (*fhir.Result, error) {
	r := w.r
	w.build(j)
	res, err := fhir.ReadBundle(w.bundle.Bytes(), r.b, fhir.Options{AsOf: r.opt.AsOf})
	if err == nil || !bundleSyntaxError(err) {
		return res, err
	}
	kept := j.recs[:0:0]
	for _, rc := range j.recs {
		if jsonValid(rc.raw) {
			kept = append(kept, rc)
			continue
		}
		h, _ := scanHeader(rc.raw)
		o.problems = append(o.problems, Problem{Kind: KindBadJSON, File: r.inputs[rc.file].Name, Line: rc.line, Resource: nameOrType(h),
			Patient: o.patient, Message: "not valid JSON: " + trimJSONError(json.Unmarshal(rc.raw, new(any)))})
	}
	j.recs = kept
	if len(kept) == 0 || !kept[0].patient {
		return nil, nil
	}
	w.build(j)
	return fhir.ReadBundle(w.bundle.Bytes(), r.b, fhir.Options{AsOf: r.opt.AsOf})
}

// build writes the collection Bundle of j's lines, then the shared
// Medications they reference, and records where each entry came from.
func (w *worker) build(j *job) {
	r := w.r
	b := &w.bundle
	b.Reset()
	w.where = w.where[:0]
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, rc := range j.recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resource":`)
		b.Write(rc.raw)
		b.WriteByte('}')
		w.where = append(w.where, loc{rc.file, rc.line})
	}
	var added []string
	for _, rc := range j.recs {
		if len(rc.medRef) == 0 {
			continue
		}
		key := string(rc.medRef)
		m, ok := r.shared[key]
		if !ok || contains(added, key) {
			continue
		}
		added = append(added, key)
		b.WriteString(`,{"resource":`)
		b.Write(m.raw)
		b.WriteByte('}')
		w.where = append(w.where, m.at)
	}
	b.WriteString("]}")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bundleSyntaxError reports whether ReadBundle found the Bundle itself not
// valid JSON.
func bundleSyntaxError(err error) bool {
	var verr *ekbom.ValidationError
	return errors.As(err, &verr) && len(verr.Problems) > 0 && verr.Problems[0].Path == "" &&
		strings.HasPrefix(verr.Problems[0].Message, "not valid JSON")
}

// reject reports a patient the reader, intake or the engine turned down.
func (w *worker) reject(o *outcome, err error) *outcome {
	r := w.r
	var verr *ekbom.ValidationError
	switch {
	case errors.As(err, &verr):
		p := Problem{Kind: KindInvalidPatient, Patient: o.patient, Message: "the record is not valid input: no plan"}
		o.kind = outInvalid
		if verr.OutOfScope || errors.Is(err, ekbom.ErrOutOfScope) {
			p.Kind, p.Message = KindOutOfScope, "outside ekbom's scope: no plan"
			o.kind = outOutOfScope
		}
		if len(w.where) > 0 {
			p.File, p.Line = r.inputs[w.where[0].file].Name, w.where[0].line
		}
		for _, pr := range verr.Problems {
			p.Details = append(p.Details, w.locate(pr))
		}
		o.problems = append(o.problems, p)
	case errors.Is(err, ekbom.ErrOutOfScope):
		o.kind = outOutOfScope
		o.problems = append(o.problems, Problem{Kind: KindOutOfScope, Patient: o.patient, Message: err.Error() + ": no plan"})
	default:
		o.kind = outFailed
		o.problems = append(o.problems, Problem{Kind: KindEvaluate, Patient: o.patient, Message: err.Error()})
	}
	return o
}

// locate prefixes a problem whose path starts at a bundle entry
// ("entry[3].resource…") with the file and line of that entry.
func (w *worker) locate(p ekbom.Problem) string {
	s := p.String()
	rest, ok := strings.CutPrefix(p.Path, "entry[")
	if !ok {
		return s
	}
	k, _, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(k)
	if !ok || err != nil || i < 0 || i >= len(w.where) {
		return s
	}
	return w.r.where(w.where[i]) + ": " + s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func jsonValid(b []byte) bool { return json.Valid(b) }

// trimJSONError shortens an encoding/json error for a problem message.
func trimJSONError(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// collect writes one outcome, in order: its problems, its plan, its care
// lists, and the counts.
func (r *run) collect(o *outcome, plans *bufio.Writer) error {
	for _, p := range o.problems {
		r.problems.add(p)
	}
	s := r.sum
	switch o.kind {
	case outNone:
		return r.problems.err
	case outMissing:
		s.MissingPatient++
		return r.problems.err
	case outPlanned:
		s.Planned++
	case outInvalid:
		s.Invalid++
	case outOutOfScope:
		s.OutOfScope++
	case outFailed:
		s.Failed++
	}
	s.Patients++
	r.patientsDone.Add(1)
	if o.kind != outPlanned {
		return r.problems.err
	}
	if _, err := plans.Write(o.line); err != nil {
		return err
	}
	f := &o.facts
	s.Status[f.status]++
	s.Pathway[f.pathway]++
	s.Band[f.band]++
	for _, c := range f.warnings {
		s.Warnings[c]++
	}
	for _, c := range f.findings {
		s.Findings[c]++
	}
	for _, c := range f.rules {
		s.Rules[c]++
	}
	for _, c := range f.recs {
		s.Recommendations[c]++
	}
	for _, h := range f.care {
		if err := r.care[h.list].add(o.patient, f.asOf, h.detail); err != nil {
			return err
		}
	}
	return r.problems.err
}
