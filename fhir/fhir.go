// Package fhir reads HL7 FHIR R4 JSON (a Bundle, or a CDS Hooks prefetch) into
// an ekbom.Patient.
//
// It reads a hand-written subset of R4: Patient, Observation, Condition,
// MedicationRequest, MedicationStatement, MedicationAdministration, Medication,
// Specimen and QuestionnaireResponse. Other resource types are counted and
// reported, never an error. Codes are looked up in the knowledge base
// (kb.Base.Codes for LOINC, SNOMED CT and ICD-10-CM; kb.Base.LookupDrug for
// verified RxNorm codes and drug names), so the Go code holds no clinical
// codes except the two pregnancy codes the knowledge base does not carry yet.
//
// Mapping in short:
//
//   - Patient: age in whole years at Options.AsOf from birthDate; sex from
//     gender (female or male; anything else is an error).
//   - Observation with a LOINC code of the knowledge base: a lab (status
//     final, amended, corrected or preliminary; units mapped to the
//     contract's spellings), or the body weight when codes.yaml maps the
//     code to the test "weight". Fasting comes from the referenced
//     Specimen's collection.fastingStatusCodeableConcept (HL7 v2 table
//     0916), and "iron taken within 24 h" from the extension
//     IronWithin24hURL. Exact duplicates are dropped.
//   - Condition (clinical status active, recurrence or relapse, or none; not
//     refuted or entered in error): SNOMED CT or ICD-10-CM through the
//     knowledge base; pregnancy codes set pregnancy.
//   - MedicationRequest and MedicationStatement: current or past medications,
//     one current entry per ingredient; a dose in mg (or a patch rate) and a
//     timing, or else the dosage text as a sig for intake to read. A stop
//     reason coded in OutcomeSystem becomes the trial outcome.
//   - MedicationAdministration of an IV iron (status completed): an
//     infusion.
//   - The newest QuestionnaireResponse to ekbom's own Questionnaire
//     (QuestionnaireURL, see Questionnaire): IRLS, augmentation features,
//     lifestyle, screening, declined treatments, pregnancy or lactation and
//     conditions EHRs rarely code. Its linkIds are the contract's field
//     names.
//
// Everything read but not used is listed in Result.Notes with the reason.
// Bad input (not JSON, no or several patients, a Patient without birthDate or
// gender, a malformed date, a negative or absurd number) is an
// *ekbom.ValidationError whose paths point into the FHIR JSON
// ("entry[3].resource.valueQuantity.value").
//
// The result is not yet normalised: run intake.Normalize on Result.Patient,
// and use Result.Locate to point its problems back at the FHIR resources.
//
// The package does no I/O and does not read the clock.
package fhir

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"ekbom"
	"ekbom/kb"
)

// Canonical URLs ekbom publishes.
const (
	// QuestionnaireURL is the canonical URL of ekbom's Questionnaire.
	QuestionnaireURL = "https://ekbom.example/fhir/Questionnaire/ekbom-rls"
	// OutcomeSystem codes why a past medication was stopped, with the
	// contract's outcomes as codes: ineffective, intolerant, augmentation,
	// partial. Use it in MedicationStatement.statusReason or
	// MedicationRequest.statusReason.
	OutcomeSystem = "https://ekbom.example/fhir/CodeSystem/trial-outcome"
	// IronWithin24hURL is an Observation extension (valueBoolean): the
	// sample was drawn within 24 h of taking iron.
	IronWithin24hURL = "https://ekbom.example/fhir/StructureDefinition/iron-supplement-within-24h"
)

// Code systems read by the package.
const (
	systemLOINC        = "http://loinc.org"
	systemSNOMED       = "http://snomed.info/sct"
	systemICD10CM      = "http://hl7.org/fhir/sid/icd-10-cm"
	systemRxNorm       = "http://www.nlm.nih.gov/research/umls/rxnorm"
	systemUCUM         = "http://unitsofmeasure.org"
	systemFasting      = "http://terminology.hl7.org/CodeSystem/v2-0916"
	systemClinical     = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemGTS          = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
)

//go:embed questionnaire.json
var questionnaireJSON []byte

// Questionnaire returns ekbom's FHIR R4 Questionnaire (QuestionnaireURL) as
// JSON. Each question's linkId is the name of the patient-record field it
// fills. The caller owns the returned slice.
func Questionnaire() []byte { return bytes.Clone(questionnaireJSON) }

// Options configures ReadBundle and ReadPrefetch.
type Options struct {
	// AsOf is the date the patient is assessed for: it becomes the
	// patient's as_of, age is computed at it, and anything dated after it
	// is ignored. Required.
	AsOf ekbom.Date
}

// Note is something in the input that was read but not used, and why.
type Note struct {
	// Resource names the resource: "Observation/abc", its fullUrl, or its
	// place in the input ("entry[3].resource") when it has neither.
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

func (n Note) String() string { return n.Resource + ": " + n.Message }

// Result is what was read.
type Result struct {
	// Patient is the record, ready for intake.Normalize.
	Patient *ekbom.Patient
	// Notes lists everything ignored and why, in input order.
	Notes []Note
	// Unread counts the resources of types ekbom does not read, by
	// resourceType. They are also summarised in Notes.
	Unread map[string]int
	// Origin maps a patient field path ("labs[2]", "medications[0]",
	// "symptoms", "age") to the FHIR JSON path of the resource it came
	// from ("entry[7].resource").
	Origin map[string]string
	// RLS names the resources that show the patient has restless legs
	// syndrome: active Conditions coding it (codes.yaml diagnosis) and
	// answered ekbom questionnaires ("Condition/c1",
	// "QuestionnaireResponse/q1"), in input order. Empty when the record
	// shows neither; the CDS Hooks services then stay silent.
	RLS []string
	// RLSCoded reports whether an active Condition codes RLS (not only a
	// questionnaire): whether it is on the problem list.
	RLSCoded bool
}

// Locate rewrites the problems of an *ekbom.ValidationError about
// Result.Patient (from intake.Normalize) so that each names the FHIR
// resource the field came from: "labs[2].unit: …" becomes
// "entry[7].resource: Observation/x, read as labs[2].unit: …". Other errors,
// and problems whose field has no known origin, are returned unchanged.
func (r *Result) Locate(err error) error {
	var verr *ekbom.ValidationError
	if r == nil || !errors.As(err, &verr) {
		return err
	}
	out := &ekbom.ValidationError{OutOfScope: verr.OutOfScope}
	for _, p := range verr.Problems {
		key := p.Path
		for key != "" && r.Origin[key] == "" {
			key = parentPath(key)
		}
		if key == "" {
			out.Problems = append(out.Problems, p)
			continue
		}
		out.Problems = append(out.Problems, ekbom.Problem{
			Path:    r.Origin[key],
			Message: "read as " + p.Path + ": " + p.Message,
		})
	}
	return out
}

// parentPath returns the path one level up: "labs[0].unit" → "labs[0]" →
// "labs" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var bom = []byte("\xef\xbb\xbf")

// IsFHIR reports whether data is a JSON object with a "resourceType"
// string: FHIR JSON rather than a native patient record.
func IsFHIR(data []byte) bool {
	var h struct {
		ResourceType *string `json:"resourceType"`
	}
	data = bytes.TrimPrefix(data, bom)
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return false
	}
	return json.Unmarshal(data, &h) == nil && h.ResourceType != nil && *h.ResourceType != ""
}

// ReadBundle reads a FHIR R4 Bundle (of any type: collection, searchset,
// transaction, document, …) holding exactly one Patient. b may be nil for
// kb.Default(). Bad input is an *ekbom.ValidationError listing every
// problem with its path in the JSON.
func ReadBundle(data []byte, b *kb.Base, opt Options) (*Result, error) {
	r, err := newReader(b, opt)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, bom)
	var bu bundle
	err = decodeJSON(data, &bu)
	var se *json.SyntaxError
	if err != nil && !errors.As(err, &se) {
		// Valid JSON of the wrong shape: say so if it is not a Bundle.
		var h header
		if json.Unmarshal(data, &h) == nil {
			bu.ResourceType = h.ResourceType
		}
	}
	switch {
	case se != nil:
		r.jsonError("", err)
	case bu.ResourceType == "" && err == nil:
		r.fail("resourceType", "missing; want a FHIR Bundle")
	case bu.ResourceType != "Bundle" && bu.ResourceType != "":
		r.fail("resourceType", "is %q; want Bundle", bu.ResourceType)
	case err != nil:
		r.jsonError("", err)
	}
	if len(r.verr.Problems) > 0 {
		return nil, r.verr
	}
	for i, e := range bu.Entry {
		r.add(fmt.Sprintf("entry[%d]", i), e)
	}
	if len(r.verr.Problems) > 0 {
		return nil, r.verr
	}
	return r.run()
}

// ReadPrefetch reads a CDS Hooks prefetch object: each value is one resource
// (usually the Patient) or a searchset Bundle, or null when the EHR could not
// fetch it. Keys are read in sorted order; problem paths start with
// "prefetch.<key>". b may be nil for kb.Default().
func ReadPrefetch(prefetch map[string]json.RawMessage, b *kb.Base, opt Options) (*Result, error) {
	r, err := newReader(b, opt)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(prefetch))
	for k := range prefetch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "prefetch." + k
		raw := bytes.TrimSpace(bytes.TrimPrefix(prefetch[k], bom))
		if len(raw) == 0 || string(raw) == "null" {
			r.note(path, "empty: the EHR sent no data for this prefetch")
			continue
		}
		// A Bundle (the usual case) is decoded once: decoding it reports
		// any problem its header would. Anything else is checked first.
		if h, ok := peekHeader(raw); !ok || h.ResourceType != "Bundle" {
			var h header
			if err := json.Unmarshal(raw, &h); err != nil {
				r.jsonError(path, err)
				continue
			}
			if h.ResourceType != "Bundle" {
				r.add(path, bundleEntry{Resource: rawResource{raw: raw}})
				continue
			}
		}
		var bu bundle
		if err := decodeJSON(raw, &bu); err != nil {
			r.jsonError(path, err)
			continue
		}
		for i, e := range bu.Entry {
			r.add(fmt.Sprintf("%s.entry[%d]", path, i), e)
		}
	}
	if len(r.verr.Problems) > 0 {
		return nil, r.verr
	}
	return r.run()
}

// entry is one resource of the input.
type entry struct {
	path    string // JSON path of the resource: "entry[3].resource", "prefetch.patient"
	fullURL string
	typ, id string
	raw     json.RawMessage
}

// name is how notes name the resource.
func (e *entry) name() string {
	switch {
	case e.id != "":
		return e.typ + "/" + e.id
	case e.fullURL != "":
		return e.fullURL
	}
	return e.path
}

// reader holds the state of one ReadBundle or ReadPrefetch call.
type reader struct {
	b    *kb.Base
	asOf ekbom.Date
	verr *ekbom.ValidationError

	entries []*entry
	index   map[string]*entry // "Type/id" and fullUrl → entry
	notes   []Note
	unread  map[string]int

	pat     *entry // the Patient
	patIDs  []string
	p       *ekbom.Patient
	origin  map[string]string
	names   []string // drug names of b, longest first, without RxNorm codes
	conds   condTable
	labs    []labCand
	weights []weightCand
	meds    []medCand
	infs    []infCand
	qrs     []qrCand
	condOut []condCand
	preg    []pregCand
	rls     []string // resources that show RLS is being managed
	rlsCond bool     // one of them is a Condition
}

func newReader(b *kb.Base, opt Options) (*reader, error) {
	if b == nil {
		var err error
		if b, err = kb.Default(); err != nil {
			return nil, err
		}
	}
	if opt.AsOf.IsZero() {
		return nil, errors.New("fhir: Options.AsOf is required")
	}
	return &reader{
		b: b, asOf: opt.AsOf, verr: &ekbom.ValidationError{},
		index: map[string]*entry{}, unread: map[string]int{}, origin: map[string]string{},
	}, nil
}

func (r *reader) fail(path, format string, args ...any) { r.verr.Add(path, format, args...) }

func (r *reader) note(resource, format string, args ...any) {
	r.notes = append(r.notes, Note{Resource: resource, Message: fmt.Sprintf(format, args...)})
}

// add records one bundle entry (path is "entry[3]" or "prefetch.x").
func (r *reader) add(path string, be bundleEntry) {
	res := path
	if strings.HasPrefix(path, "entry[") || strings.Contains(path, ".entry[") {
		res = path + ".resource"
	}
	raw := bytes.TrimSpace(be.Resource.raw)
	if len(raw) == 0 || string(raw) == "null" {
		return // a transaction DELETE or a search outcome without a resource
	}
	if raw[0] != '{' {
		r.fail(res, "want a JSON object (a FHIR resource)")
		return
	}
	h := be.Resource.hdr
	if !be.Resource.hdrOK {
		var err error
		if h, err = readHeader(raw); err != nil {
			r.jsonError(res, err)
			return
		}
	}
	e := &entry{path: res, fullURL: be.FullURL, typ: h.ResourceType, id: h.ID, raw: raw}
	if e.typ == "" {
		r.note(e.name(), "no resourceType: not read")
		return
	}
	r.entries = append(r.entries, e)
	if e.id != "" {
		if _, dup := r.index[e.typ+"/"+e.id]; !dup {
			r.index[e.typ+"/"+e.id] = e
		}
	}
	if e.fullURL != "" {
		if _, dup := r.index[e.fullURL]; !dup {
			r.index[e.fullURL] = e
		}
	}
}

// decode decodes e into v, reporting JSON type errors at their path. e.raw
// is valid JSON: it was decoded from the input (see add).
func decode[T any](r *reader, e *entry, v *T) bool {
	if err := decodeJSON(e.raw, v); err != nil {
		r.jsonError(e.path, err)
		return false
	}
	return true
}

// jsonError reports a JSON decoding error at path.
func (r *reader) jsonError(path string, err error) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		r.fail(path, "not valid JSON (at byte %d): %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		p := path
		if te.Field != "" {
			p = joinPath(path, te.Field)
		}
		r.fail(p, "want %s, got a JSON %s", kindName(te.Type), te.Value)
	default:
		r.fail(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a JSON value"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	}
	return "another type"
}

// run reads the collected entries into a patient.
func (r *reader) run() (*Result, error) {
	r.findPatient()
	if r.p == nil {
		// Read on regardless, so that every problem is reported at once.
		r.p = &ekbom.Patient{}
	}
	t := tablesFor(r.b)
	r.conds, r.names = t.conds, t.names
	for _, e := range r.entries {
		switch e.typ {
		case "Patient", "Medication", "Specimen":
			// The Patient was read above; Medication and Specimen are
			// read where they are referenced.
		case "Observation":
			r.observation(e)
		case "Condition":
			r.condition(e)
		case "MedicationRequest":
			r.medicationUse(e, request)
		case "MedicationStatement":
			r.medicationUse(e, statement)
		case "MedicationAdministration":
			r.administration(e)
		case "QuestionnaireResponse":
			r.questionnaireResponse(e)
		default:
			r.unread[e.typ]++
		}
	}
	r.finishLabs()
	r.finishWeight()
	r.finishMeds()
	r.finishInfusions()
	r.finishQuestionnaire()
	r.finishConditions()
	if len(r.verr.Problems) > 0 {
		return nil, r.verr
	}
	types := make([]string, 0, len(r.unread))
	for t := range r.unread {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		n := r.unread[t]
		s := "s"
		if n == 1 {
			s = ""
		}
		r.note(t, "%d %s resource%s not read: ekbom does not use this resource type", n, t, s)
	}
	return &Result{Patient: r.p, Notes: r.notes, Unread: r.unread, Origin: r.origin, RLS: r.rls, RLSCoded: r.rlsCond}, nil
}

// findPatient reads the one Patient of the input.
func (r *reader) findPatient() {
	var pats []*entry
	seen := map[string]bool{}
	for _, e := range r.entries {
		if e.typ != "Patient" {
			continue
		}
		key := e.name()
		if seen[key] {
			r.note(e.path, "%s appears again: read once", key)
			continue
		}
		seen[key] = true
		pats = append(pats, e)
	}
	switch len(pats) {
	case 0:
		r.fail("", "no Patient resource: ekbom needs the patient's birthDate and gender")
		return
	case 1:
	default:
		names := make([]string, len(pats))
		for i, e := range pats {
			names[i] = e.name() + " at " + e.path
		}
		r.fail(pats[1].path, "more than one Patient (%s): ekbom reads one patient at a time", strings.Join(names, ", "))
		return
	}
	e := pats[0]
	r.pat = e
	var pt patient
	if !decode(r, e, &pt) {
		return
	}
	r.p = &ekbom.Patient{ID: e.id, AsOf: r.asOf}
	r.origin["age"] = e.path
	r.origin["sex"] = e.path
	switch pt.Gender {
	case "female":
		r.p.Sex = ekbom.Female
	case "male":
		r.p.Sex = ekbom.Male
	case "":
		r.fail(e.path+".gender", "missing: ekbom needs female or male (for creatinine clearance and pregnancy)")
	default:
		r.fail(e.path+".gender", "is %q: ekbom needs female or male (for creatinine clearance and pregnancy)", pt.Gender)
	}
	if pt.BirthDate == "" {
		r.fail(e.path+".birthDate", "missing: ekbom computes the age from it")
		return
	}
	d, prec, ok := parseDate(pt.BirthDate)
	if !ok {
		r.fail(e.path+".birthDate", "%q is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)", truncate(pt.BirthDate, 40))
		return
	}
	// With a partial birth date, assume the last possible day so that the
	// age is never overstated (the 18-year limit).
	switch prec {
	case precYear:
		d = ekbom.DateOf(d.Time().Year(), 12, 31)
		r.note(e.name(), "birthDate %s has no month or day: age computed as if born on %s", pt.BirthDate, d)
	case precMonth:
		d = d.AddMonths(1).AddDays(-1)
		r.note(e.name(), "birthDate %s has no day: age computed as if born on %s", pt.BirthDate, d)
	}
	if d.After(r.asOf) && prec == precDay {
		r.fail(e.path+".birthDate", "%s is after as_of %s", d, r.asOf)
		return
	}
	age := ageAt(d, r.asOf)
	if age < 0 {
		age = 0
	}
	r.p.Age = &age
	if e.id != "" {
		r.patIDs = append(r.patIDs, e.id)
	}
}

// ageAt returns the age in whole years on date at of someone born on birth.
func ageAt(birth, at ekbom.Date) int {
	bt, at2 := birth.Time(), at.Time()
	age := at2.Year() - bt.Year()
	if at2.Month() < bt.Month() || (at2.Month() == bt.Month() && at2.Day() < bt.Day()) {
		age--
	}
	return age
}

// forPatient reports whether a subject reference names the patient; a
// resource about someone else is noted and skipped. A missing subject is
// taken to mean the patient.
func (r *reader) forPatient(e *entry, subject *reference) bool {
	if subject == nil || subject.Reference == "" || r.pat == nil {
		return true
	}
	ref := subject.Reference
	if ref == r.pat.fullURL {
		return true
	}
	if i := strings.LastIndex(ref, "Patient/"); i >= 0 && (i == 0 || ref[i-1] == '/') {
		id, _, _ := strings.Cut(ref[i+len("Patient/"):], "/")
		if r.pat.id == "" || id == r.pat.id {
			return true
		}
	} else if other, ok := r.index[ref]; !ok || other == r.pat {
		return true // a reference we cannot resolve: give it the benefit
	}
	r.note(e.name(), "subject %q is not the patient (%s): not read", ref, r.pat.name())
	return false
}

// resolve finds the resource a reference points to: "#id" among the
// contained resources, else "Type/id" or a fullUrl in the input.
func (r *reader) resolve(ref string, contained []json.RawMessage, typ string) (json.RawMessage, bool) {
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		for _, c := range contained {
			if h, err := readHeader(c); err == nil && h.ID == id && h.ResourceType == typ {
				return c, true
			}
		}
		return nil, false
	}
	if e, ok := r.index[ref]; ok && e.typ == typ {
		return e.raw, true
	}
	// An absolute URL ending in Type/id.
	if i := strings.LastIndex(ref, typ+"/"); i > 0 && ref[i-1] == '/' {
		if e, ok := r.index[ref[i:]]; ok && e.typ == typ {
			return e.raw, true
		}
	}
	return nil, false
}
