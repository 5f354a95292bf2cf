package cdshooks

import (
	"sort"
	"strings"

	"ekbom/kb"
)

// Discovery is the document served at {baseUrl}/cds-services.
type Discovery struct {
	Services []Service `json:"services"`
}

// Service describes one CDS Service in the discovery document.
type Service struct {
	Hook        string `json:"hook"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description"`
	ID          string `json:"id"`
	// Prefetch maps a prefetch key to a FHIR read or search with
	// {{context.…}} tokens.
	Prefetch          map[string]string `json:"prefetch,omitempty"`
	UsageRequirements string            `json:"usageRequirements,omitempty"`

	// Required lists the prefetch keys the service cannot answer without
	// (412 when absent and not fetchable); the other keys are used when
	// present. Not part of the wire format.
	Required []string `json:"-"`
}

// Prefetch keys.
const (
	KeyPatient            = "patient"
	KeyLabs               = "labs"
	KeyConditions         = "conditions"
	KeyMedicationRequests = "medicationrequests"
	KeyStatements         = "medicationstatements"
	KeyAdministrations    = "medicationadministrations"
	KeyQuestionnaire      = "questionnaireresponses"
)

// prefetchKeys are the keys ekbom reads.
var prefetchKeys = map[string]bool{
	KeyPatient: true, KeyLabs: true, KeyConditions: true, KeyMedicationRequests: true,
	KeyStatements: true, KeyAdministrations: true, KeyQuestionnaire: true,
}

const usage = "Send the prefetch data (or fhirServer with fhirAuthorization so that ekbom can fetch it) and a JWT signed by a trusted issuer. " +
	"ekbom supports clinical judgement; it is not a medical device."

// Services returns the discovery document for the knowledge base b. The
// labs template asks for the LOINC codes b reads (kb Codes.Labs: iron
// studies, renal function, CRP, phosphate and body weight).
func Services(b *kb.Base) Discovery {
	usage := usage + " " + rlsOnly(b)
	seen := map[string]bool{}
	var codes []string
	for _, l := range b.Codes.Labs {
		if !seen[l.LOINC] {
			seen[l.LOINC] = true
			codes = append(codes, "http://loinc.org|"+l.LOINC)
		}
	}
	sort.Strings(codes)
	templates := map[string]string{
		KeyPatient:            "Patient/{{context.patientId}}",
		KeyLabs:               "Observation?patient={{context.patientId}}&code=" + strings.Join(codes, ","),
		KeyConditions:         "Condition?patient={{context.patientId}}",
		KeyMedicationRequests: "MedicationRequest?patient={{context.patientId}}",
		KeyStatements:         "MedicationStatement?patient={{context.patientId}}",
		KeyAdministrations:    "MedicationAdministration?patient={{context.patientId}}",
		KeyQuestionnaire:      "QuestionnaireResponse?patient={{context.patientId}}",
	}
	pick := func(keys ...string) map[string]string {
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = templates[k]
		}
		return m
	}
	orderKeys := []string{KeyPatient, KeyLabs, KeyConditions, KeyMedicationRequests, KeyStatements, KeyQuestionnaire}
	orderRequired := []string{KeyPatient, KeyLabs, KeyConditions, KeyMedicationRequests, KeyStatements}
	return Discovery{Services: []Service{
		{
			Hook:  HookPatientView,
			ID:    PatientViewID,
			Title: "ekbom: refractory restless legs syndrome plan",
			Description: "When a chart opens, shows the safety warnings and the next steps of ekbom's stepwise plan for " +
				"restless legs syndrome (iron, drugs that worsen RLS, augmentation, alpha-2-delta ligands, opioids), " +
				"with the evidence grade and a link to the full plan. Knowledge base " + b.Meta.Version + ".",
			Prefetch:          pick(KeyPatient, KeyLabs, KeyConditions, KeyMedicationRequests, KeyStatements, KeyAdministrations, KeyQuestionnaire),
			Required:          []string{KeyPatient, KeyLabs, KeyConditions, KeyMedicationRequests, KeyStatements, KeyAdministrations},
			UsageRequirements: usage,
		},
		{
			Hook:  HookOrderSelect,
			ID:    OrderSelectID,
			Title: "ekbom: RLS medication order check (select)",
			Description: "Checks the selected draft MedicationRequest against the patient: a new or increased dopaminergic drug, " +
				"cabergoline, drugs that worsen RLS, opioids with other respiratory depressants or untreated sleep apnea, " +
				"and gabapentinoids above the renal limit.",
			Prefetch:          pick(orderKeys...),
			Required:          orderRequired,
			UsageRequirements: usage,
		},
		{
			Hook:  HookOrderSign,
			ID:    OrderSignID,
			Title: "ekbom: RLS medication order check (sign)",
			Description: "Checks every draft MedicationRequest before signing: a new or increased dopaminergic drug, " +
				"cabergoline, drugs that worsen RLS, opioids with other respiratory depressants or untreated sleep apnea, " +
				"and gabapentinoids above the renal limit.",
			Prefetch:          pick(orderKeys...),
			Required:          orderRequired,
			UsageRequirements: usage,
		},
	}}
}

// rlsOnly says whom the services answer (see rlsGate), with the RLS codes
// of b.
func rlsOnly(b *kb.Base) string {
	var codes []string
	for _, dc := range b.Codes.Diagnosis {
		for _, c := range dc.SNOMED {
			codes = append(codes, "SNOMED CT "+c)
		}
		for _, c := range dc.ICD10CM {
			codes = append(codes, "ICD-10-CM "+c)
		}
	}
	return "Answers only for patients whose record shows restless legs syndrome (a Condition coded " +
		strings.Join(codes, " or ") + " or naming it in its text, an answered ekbom questionnaire, or for order hooks a drafted order with that reasonCode); " +
		"others get no cards, unless the conditions prefetch is missing or incomplete."
}

// Service returns the service with the given id.
func (d Discovery) Service(id string) (Service, bool) {
	for _, s := range d.Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// Missing returns the prefetch keys of s that req lacks, in sorted order:
// keys absent from the request, and the patient when it is null. A null
// value of another key means the EHR has no such data, which is fine.
func (s Service) Missing(req *Request) []string {
	var out []string
	for k := range s.Prefetch {
		raw, ok := req.Prefetch[k]
		if !ok || (k == KeyPatient && isNull(raw)) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// IsRequired reports whether the service cannot answer without key.
func (s Service) IsRequired(key string) bool {
	for _, k := range s.Required {
		if k == key {
			return true
		}
	}
	return false
}

func isNull(raw []byte) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null"
}

// Expand fills the prefetch tokens of template from the request context:
// {{context.patientId}}, {{context.userId}} and {{context.encounterId}}.
// The result is a relative FHIR URL. It fails when a token has no value or
// the value is not a plain FHIR id (letters, digits, '-' and '.', or
// "Type/id" for userId), so nothing but an id reaches the URL.
func Expand(template string, c Context) (string, bool) {
	user := c.UserID
	if _, id, ok := strings.Cut(user, "/"); ok {
		user = id
	}
	vals := map[string]string{
		"context.patientId":   c.PatientID,
		"context.userId":      user,
		"context.encounterId": c.EncounterID,
	}
	out := template
	for tok, v := range vals {
		t := "{{" + tok + "}}"
		if !strings.Contains(out, t) {
			continue
		}
		if !fhirID(v) {
			return "", false
		}
		out = strings.ReplaceAll(out, t, v)
	}
	if strings.Contains(out, "{{") {
		return "", false
	}
	return out, true
}

// fhirID reports whether s is a FHIR resource id: 1–64 of [A-Za-z0-9.-].
func fhirID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
