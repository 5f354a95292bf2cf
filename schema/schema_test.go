package schema_test

import (
	"bytes"
	"encoding"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"ekbom"
	"ekbom/schema"
)

func compile(t *testing.T, name string, data []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

func instance(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("instance is not JSON: %v\n%s", err, data)
	}
	return v
}

func TestCompile(t *testing.T) {
	compile(t, "patient.schema.json", schema.Patient())
	compile(t, "plan.schema.json", schema.Plan())
}

func TestReturnsCopies(t *testing.T) {
	p := schema.Plan()
	p[0] = 'x'
	if schema.Plan()[0] == 'x' {
		t.Error("Plan() returned the embedded slice; a caller changed it")
	}
}

func f(x float64) *float64 { return &x }
func i(x int) *int         { return &x }

// realisticPlan is the kind of plan the engine writes for a patient with
// augmentation on pramipexole and low ferritin.
func realisticPlan() ekbom.Plan {
	asOf := ekbom.DateOf(2026, 11, 21)
	return ekbom.Plan{
		PatientID:        "vignette-001",
		AsOf:             asOf,
		EngineVersion:    ekbom.EngineVersion,
		KnowledgeVersion: "2026.11.1",
		Pathway:          "standard",
		Severity:         ekbom.Severity{IRLS: i(27), Band: "severe"},
		Status:           ekbom.NotYetRefractory,
		StatusReasons:    []string{"iron not yet optimized"},
		Findings: []ekbom.Finding{{
			Code:    "augmentation_suspected",
			Text:    "Augmentation on pramipexole is suspected.",
			Because: []string{"symptoms start 4 h earlier", "spread to the arms"},
		}},
		Steps: []ekbom.Step{
			{ID: ekbom.StepIron, Title: "Iron", Recommendations: []ekbom.Recommendation{{
				Rule: "iron.iv.start", Action: ekbom.ActStart, Target: "ferric_carboxymaltose", Class: "iv_iron",
				Dose:     &ekbom.Dose{Text: "1000 mg IV", AmountMg: f(1000), Route: "iv"},
				Text:     "Give IV ferric carboxymaltose 1000 mg.",
				Strength: "strong", Certainty: "moderate", GradeVerified: true,
				Sources: []string{"aasm2025"}, Because: []string{"ferritin 45 ng/mL (2026-10-01) ≤ 75 ng/mL"},
				Priority: 1,
			}}},
			{ID: ekbom.StepAugmentation, Title: "Augmentation", Recommendations: []ekbom.Recommendation{{
				Rule: "aug.taper", Action: ekbom.ActTaper, Target: "pramipexole", Class: "dopamine_agonist",
				Dose: &ekbom.Dose{Text: "0.25 mg/day, lower by 0.125 mg every 2 weeks", DailyMg: f(0.25), TimesPerDay: f(1), MaxDailyMg: f(0.5)},
				Text: "Taper pramipexole slowly.", Strength: "conditional", Certainty: "low", GradeVerified: false,
				Sources: []string{"mpi"}, Because: []string{"augmentation suspected"}, Priority: 2,
				Conflicts: []string{"C2"},
				Schedule: []ekbom.ScheduleItem{
					{Date: asOf, DailyMg: 0.125, Text: "0.125 mg at bedtime"},
					{Date: asOf.AddDays(14), DailyMg: 0, Text: "stop"},
				},
			}}},
		},
		Warnings: []ekbom.Warning{{
			Code: ekbom.WarnAbruptDAStop, Severity: "high", Text: "Do not stop pramipexole abruptly.",
			Because: []string{"taper recommended"}, Sources: []string{"mpi"},
		}},
		Avoid: []ekbom.Avoid{{
			Target: "cabergoline", Class: "dopamine_agonist", Text: "Heart valve disease.",
			Strength: "strong", Certainty: "low", GradeVerified: true, Sources: []string{"aasm2025"},
		}},
		Monitoring: []ekbom.Monitor{{What: "ferritin", Due: asOf.AddMonths(3), Text: "Ferritin and TSAT in 3 months."}},
		Missing:    []string{},
		Conflicts: []ekbom.ConflictNote{{
			ID: "C2", Topic: "dopamine agonists as first line", Resolution: "Follow AASM 2025.",
			Positions: []string{"AASM 2025: against standard use", "older guidance: first line"},
		}},
		Sources: map[string]ekbom.SourceRef{
			"aasm2025": {Citation: "Winkelman JW et al. AASM 2025.", URL: "https://example.org/aasm2025"},
			"mpi":      {Citation: "García-Borreguero D et al. 2016."},
		},
	}
}

// mutate returns doc (a JSON object) changed by fn.
func mutate(t *testing.T, doc []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPlan(t *testing.T) {
	s := compile(t, "plan.schema.json", schema.Plan())
	good, err := json.Marshal(realisticPlan())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(instance(t, good)); err != nil {
		t.Fatalf("realistic plan fails the schema: %v\n%s", err, good)
	}
	step := func(m map[string]any) map[string]any { return m["steps"].([]any)[0].(map[string]any) }
	rec := func(m map[string]any) map[string]any {
		return step(m)["recommendations"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name string
		fn   func(m map[string]any)
	}{
		{"bad action", func(m map[string]any) { rec(m)["action"] = "double" }},
		{"missing status", func(m map[string]any) { delete(m, "status") }},
		{"bad status", func(m map[string]any) { m["status"] = "refractory-ish" }},
		{"null list", func(m map[string]any) { m["missing"] = nil }},
		{"bad step id", func(m map[string]any) { step(m)["id"] = "surgery" }},
		{"bad warning code", func(m map[string]any) { m["warnings"].([]any)[0].(map[string]any)["code"] = "be_careful" }},
		{"bad warning severity", func(m map[string]any) { m["warnings"].([]any)[0].(map[string]any)["severity"] = "low" }},
		{"bad band", func(m map[string]any) { m["severity"].(map[string]any)["band"] = "extreme" }},
		{"irls above 40", func(m map[string]any) { m["severity"].(map[string]any)["irls"] = 41 }},
		{"bad date", func(m map[string]any) { m["as_of"] = "21/11/2026" }},
		{"empty date", func(m map[string]any) { m["as_of"] = "" }},
		{"extra field", func(m map[string]any) { m["score"] = 3 }},
		{"extra recommendation field", func(m map[string]any) { rec(m)["urgency"] = "high" }},
		{"recommendation without rule", func(m map[string]any) { delete(rec(m), "rule") }},
		{"dose without text", func(m map[string]any) { delete(rec(m)["dose"].(map[string]any), "text") }},
		{"source without citation", func(m map[string]any) {
			m["sources"].(map[string]any)["mpi"] = map[string]any{"url": "https://example.org"}
		}},
		{"bad monitoring", func(m map[string]any) { m["monitoring"].([]any)[0].(map[string]any)["what"] = "mood" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := mutate(t, good, tc.fn)
			if err := s.Validate(instance(t, bad)); err == nil {
				t.Errorf("schema accepts a plan with %s:\n%s", tc.name, bad)
			}
		})
	}
}

func TestPatient(t *testing.T) {
	s := compile(t, "patient.schema.json", schema.Patient())
	fixture, err := os.ReadFile("../intake/testdata/patient.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"intake fixture", string(fixture), true},
		{"minimal", `{"age": 60, "sex": "female"}`, true},
		{"integral float age", `{"age": 60.0, "sex": "female"}`, true},
		{"sig only", `{"age": 60, "sex": "male", "medications": [{"sig": "gabapentin 300 mg tid", "status": "past", "outcome": "ineffective"}]}`, true},
		{"patch", `{"age": 60, "sex": "male", "medications": [{"name": "Neupro", "dose_mg_per_24h": 2, "start": "2025-01-01"}]}`, true},
		{"augmentation extension", `{"age": 60, "sex": "male", "symptoms": {"irls_total": 25, "augmentation": {"worse_most_days": true, "prior_positive_response": false}}}`, true},
		{"unknown field", `{"age": 60, "sex": "female", "weight": 70}`, false},
		{"unknown lab field", `{"age": 60, "sex": "female", "labs": [{"test": "ferritin", "valu": 40, "unit": "ng/mL", "date": "2026-10-01"}]}`, false},
		{"missing sex", `{"age": 60}`, false},
		{"age not an integer", `{"age": 60.5, "sex": "female"}`, false},
		{"age as a string", `{"age": "sixty", "sex": "female"}`, false},
		{"unknown condition", `{"age": 60, "sex": "female", "conditions": ["osa"]}`, false},
		{"unknown lab test", `{"age": 60, "sex": "female", "labs": [{"test": "b12", "value": 300, "unit": "pg/mL", "date": "2026-10-01"}]}`, false},
		{"lab without unit", `{"age": 60, "sex": "female", "labs": [{"test": "ferritin", "value": 40, "date": "2026-10-01"}]}`, false},
		{"negative lab", `{"age": 60, "sex": "female", "labs": [{"test": "ferritin", "value": -1, "unit": "ng/mL", "date": "2026-10-01"}]}`, false},
		{"bad date", `{"age": 60, "sex": "female", "as_of": "2026-13-01"}`, false},
		{"medication without name or sig", `{"age": 60, "sex": "female", "medications": [{"dose_mg": 300}]}`, false},
		{"nine IRLS items", `{"age": 60, "sex": "female", "symptoms": {"irls_items": [1, 1, 1, 1, 1, 1, 1, 1, 1]}}`, false},
		{"IRLS item 5", `{"age": 60, "sex": "female", "symptoms": {"irls_items": [1, 1, 1, 5, 1, 1, 1, 1, 1, 1]}}`, false},
		{"bad opioid risk", `{"age": 60, "sex": "female", "screening": {"opioid_risk": "extreme"}}`, false},
		{"infusion without dose", `{"age": 60, "sex": "female", "iron_infusions": [{"date": "2025-01-01", "product": "Injectafer"}]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(instance(t, []byte(tc.doc)))
			if tc.valid && err != nil {
				t.Errorf("schema rejects a valid record: %v", err)
			}
			if !tc.valid && err == nil {
				t.Errorf("schema accepts an invalid record:\n%s", tc.doc)
			}
		})
	}
}

// TestMatchesGoTypes walks the json tags of ekbom.Patient and ekbom.Plan and
// checks that every tag is a property of the schema and every property a tag,
// that the non-omitempty tags are exactly the required properties, and that
// objects allow no other properties. The schemas cannot drift from the types.
func TestMatchesGoTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		typ  reflect.Type
	}{
		{"patient", schema.Patient(), reflect.TypeFor[ekbom.Patient]()},
		{"plan", schema.Plan(), reflect.TypeFor[ekbom.Plan]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root map[string]any
			if err := json.Unmarshal(tc.data, &root); err != nil {
				t.Fatal(err)
			}
			w := &walker{t: t, root: root, seen: map[reflect.Type]bool{}}
			w.object(tc.typ.Name(), root, tc.typ)
		})
	}
}

type walker struct {
	t    *testing.T
	root map[string]any
	seen map[reflect.Type]bool
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// resolve follows a local "$ref".
func (w *walker) resolve(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		w.t.Fatalf("unsupported $ref %q", ref)
	}
	def, ok := w.root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok {
		w.t.Fatalf("$ref %q: no such definition", ref)
	}
	return def
}

func (w *walker) object(where string, s map[string]any, typ reflect.Type) {
	if w.seen[typ] {
		return
	}
	w.seen[typ] = true
	s = w.resolve(s)
	if s["additionalProperties"] != false {
		w.t.Errorf("%s: schema must set additionalProperties: false", where)
	}
	props, _ := s["properties"].(map[string]any)
	var required []string
	rs, _ := s["required"].([]any)
	for _, r := range rs {
		required = append(required, r.(string))
	}
	var tags, wantRequired []string
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		tags = append(tags, name)
		o := strings.Split(opts, ",")
		if !slices.Contains(o, "omitempty") && !slices.Contains(o, "omitzero") {
			wantRequired = append(wantRequired, name)
		}
		prop, ok := props[name].(map[string]any)
		if !ok {
			w.t.Errorf("%s.%s: json tag %q is not a property of the schema", where, f.Name, name)
			continue
		}
		w.field(where+"."+name, prop, f.Type)
	}
	var names []string
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(tags)
	sort.Strings(names)
	if diff := cmp.Diff(tags, names); diff != "" {
		w.t.Errorf("%s: json tags and schema properties differ (-tags +schema):\n%s", where, diff)
	}
	sort.Strings(wantRequired)
	sort.Strings(required)
	if diff := cmp.Diff(wantRequired, required); diff != "" {
		w.t.Errorf("%s: non-omitempty tags and schema required differ (-tags +schema):\n%s", where, diff)
	}
}

func (w *walker) field(where string, s map[string]any, typ reflect.Type) {
	s = w.resolve(s)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
		return // written as a string (ekbom.Date)
	}
	switch typ.Kind() {
	case reflect.Struct:
		w.object(where, s, typ)
	case reflect.Slice:
		items, ok := s["items"].(map[string]any)
		if !ok {
			w.t.Errorf("%s: a list in Go but the schema has no items", where)
			return
		}
		w.field(where+"[]", items, typ.Elem())
	case reflect.Map:
		ap, ok := s["additionalProperties"].(map[string]any)
		if !ok {
			w.t.Errorf("%s: a map in Go but the schema has no additionalProperties schema", where)
			return
		}
		w.field(where+"{}", ap, typ.Elem())
	}
}

// TestVocabularies checks the schemas' enums against the Go vocabularies.
func TestVocabularies(t *testing.T) {
	var patient, plan map[string]any
	if err := json.Unmarshal(schema.Patient(), &patient); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(schema.Plan(), &plan); err != nil {
		t.Fatal(err)
	}
	enum := func(root map[string]any, path ...string) []string {
		var v any = root
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		var out []string
		for _, x := range v.(map[string]any)["enum"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	strs := func(xs ...any) []string {
		var out []string
		for _, x := range xs {
			out = append(out, reflect.ValueOf(x).String())
		}
		return out
	}
	var conditions, actions []any
	for _, c := range ekbom.Conditions {
		conditions = append(conditions, c)
	}
	for _, a := range ekbom.Actions {
		actions = append(actions, a)
	}
	tests := []struct {
		name      string
		want, got []string
	}{
		{"conditions", strs(conditions...), enum(patient, "properties", "conditions", "items")},
		{"actions", strs(actions...), enum(plan, "$defs", "Recommendation", "properties", "action")},
		{"warning codes", ekbom.WarningCodes, enum(plan, "$defs", "Warning", "properties", "code")},
		{"step ids", ekbom.StepOrder, enum(plan, "$defs", "Step", "properties", "id")},
		{"statuses", strs(ekbom.Refractory, ekbom.NotYetRefractory, ekbom.Undetermined), enum(plan, "properties", "status")},
		{"sexes", strs(ekbom.Female, ekbom.Male), enum(patient, "properties", "sex")},
		{"pregnancy", strs(ekbom.NotPregnant, ekbom.Pregnant, ekbom.Lactating), enum(patient, "properties", "pregnancy")},
		{"outcomes", strs(ekbom.Ineffective, ekbom.Intolerant, ekbom.Augmented, ekbom.Partial),
			enum(patient, "$defs", "Medication", "properties", "outcome")},
		{"lab tests", strs(ekbom.Ferritin, ekbom.TSAT, ekbom.Iron, ekbom.TIBC, ekbom.Hemoglobin, ekbom.Creatinine,
			ekbom.EGFR, ekbom.CRP, ekbom.Phosphate), enum(patient, "$defs", "Lab", "properties", "test")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("schema enum differs from the Go vocabulary (-go +schema):\n%s", diff)
			}
		})
	}
}
