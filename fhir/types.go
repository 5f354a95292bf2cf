package fhir

import (
	"bytes"
	"encoding/json"
)

// The typed subset of FHIR R4 that ekbom reads. Only the elements the mapping
// uses are declared; encoding/json ignores the rest. Choice types
// (value[x], effective[x], medication[x], …) are one pointer or string field
// per variant, so an absent variant stays nil or "".

// bundle is a Bundle of any type (collection, searchset, transaction, …).
type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	FullURL  string      `json:"fullUrl"`
	Resource rawResource `json:"resource"`
}

// rawResource is the JSON of a bundle entry's resource, decoded later by
// its type. The fast decoder (fastjson.go) also reads its header on the way
// and refers to the input rather than copying it.
type rawResource struct {
	raw   json.RawMessage
	hdr   header // when hdrOK: what readHeader(raw) returns
	hdrOK bool
}

// UnmarshalJSON keeps a copy of the resource, as json.RawMessage does.
func (r *rawResource) UnmarshalJSON(b []byte) error {
	r.raw = append(r.raw[:0], b...)
	return nil
}

// header is what every resource starts with.
type header struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

// code returns the first code cc carries in system, or "".
func (cc *codeableConcept) code(system string) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if c.System == system && c.Code != "" {
			return c.Code
		}
	}
	return ""
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type quantity struct {
	Value      decimal `json:"value"`
	Comparator string  `json:"comparator"`
	Unit       string  `json:"unit"`
	System     string  `json:"system"`
	Code       string  `json:"code"`
}

// decimal is a FHIR decimal (or integer) as written: a json.Number, so no
// precision is lost before the value is checked. A JSON value that is not a
// number is kept in bad rather than failing the decode, so the reader can
// report it at its full path.
type decimal struct {
	Number json.Number
	bad    string
	set    bool
}

func (d *decimal) UnmarshalJSON(b []byte) error {
	*d = decimal{}
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	d.set = true
	if len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) && json.Valid(b) {
		d.Number = json.Number(b)
		return nil
	}
	if len(b) > 40 {
		b = append(b[:37:37], "..."...)
	}
	d.bad = string(b)
	return nil
}

type extension struct {
	URL          string `json:"url"`
	ValueBoolean *bool  `json:"valueBoolean"`
}

type patient struct {
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
}

type observation struct {
	Status               string            `json:"status"`
	Code                 codeableConcept   `json:"code"`
	Subject              *reference        `json:"subject"`
	EffectiveDateTime    string            `json:"effectiveDateTime"`
	EffectivePeriod      *period           `json:"effectivePeriod"`
	EffectiveInstant     string            `json:"effectiveInstant"`
	Issued               string            `json:"issued"`
	ValueQuantity        *quantity         `json:"valueQuantity"`
	ValueString          *string           `json:"valueString"`
	ValueCodeableConcept *codeableConcept  `json:"valueCodeableConcept"`
	DataAbsentReason     *codeableConcept  `json:"dataAbsentReason"`
	Component            []json.RawMessage `json:"component"`
	Specimen             *reference        `json:"specimen"`
	Extension            []extension       `json:"extension"`
	Contained            []json.RawMessage `json:"contained"`
}

type specimen struct {
	Collection *struct {
		FastingStatusCodeableConcept *codeableConcept `json:"fastingStatusCodeableConcept"`
	} `json:"collection"`
}

type condition struct {
	ClinicalStatus     *codeableConcept `json:"clinicalStatus"`
	VerificationStatus *codeableConcept `json:"verificationStatus"`
	Code               *codeableConcept `json:"code"`
	Subject            *reference       `json:"subject"`
	OnsetDateTime      string           `json:"onsetDateTime"`
	OnsetPeriod        *period          `json:"onsetPeriod"`
	AbatementDateTime  string           `json:"abatementDateTime"`
	AbatementPeriod    *period          `json:"abatementPeriod"`
	AbatementString    string           `json:"abatementString"`
	AbatementBoolean   *bool            `json:"abatementBoolean"`
}

// medicationUse is MedicationRequest, MedicationStatement and
// MedicationAdministration together: their elements do not clash, and each
// resource type simply leaves the others' elements empty.
type medicationUse struct {
	Status                    string            `json:"status"`
	Intent                    string            `json:"intent"` // MedicationRequest
	StatusReason              json.RawMessage   `json:"statusReason"`
	MedicationCodeableConcept *codeableConcept  `json:"medicationCodeableConcept"`
	MedicationReference       *reference        `json:"medicationReference"`
	Subject                   *reference        `json:"subject"`
	AuthoredOn                string            `json:"authoredOn"`        // MedicationRequest
	EffectiveDateTime         string            `json:"effectiveDateTime"` // Statement, Administration
	EffectivePeriod           *period           `json:"effectivePeriod"`   // Statement, Administration
	DosageInstruction         []dosage          `json:"dosageInstruction"` // MedicationRequest
	Dosage                    json.RawMessage   `json:"dosage"`            // Statement: a list; Administration: one object
	Contained                 []json.RawMessage `json:"contained"`
}

type dosage struct {
	Text            string        `json:"text"`
	Timing          *timing       `json:"timing"`
	AsNeededBoolean *bool         `json:"asNeededBoolean"`
	DoseAndRate     []doseAndRate `json:"doseAndRate"`
}

type timing struct {
	Repeat *struct {
		BoundsPeriod *period  `json:"boundsPeriod"`
		Frequency    decimal  `json:"frequency"`
		Period       decimal  `json:"period"`
		PeriodUnit   string   `json:"periodUnit"`
		When         []string `json:"when"`
		TimeOfDay    []string `json:"timeOfDay"`
	} `json:"repeat"`
	Code *codeableConcept `json:"code"`
}

type doseAndRate struct {
	DoseQuantity *quantity       `json:"doseQuantity"`
	DoseRange    json.RawMessage `json:"doseRange"`
	RateQuantity *quantity       `json:"rateQuantity"`
}

// administrationDosage is MedicationAdministration.dosage.
type administrationDosage struct {
	Text string    `json:"text"`
	Dose *quantity `json:"dose"`
}

type medication struct {
	Code       *codeableConcept `json:"code"`
	Ingredient []struct {
		ItemCodeableConcept *codeableConcept `json:"itemCodeableConcept"`
	} `json:"ingredient"`
}

type questionnaireResponse struct {
	Questionnaire string     `json:"questionnaire"`
	Status        string     `json:"status"`
	Subject       *reference `json:"subject"`
	Authored      string     `json:"authored"`
	Item          []qrItem   `json:"item"`
}

type qrItem struct {
	LinkID string     `json:"linkId"`
	Answer []qrAnswer `json:"answer"`
	Item   []qrItem   `json:"item"`
}

type qrAnswer struct {
	ValueBoolean *bool    `json:"valueBoolean"`
	ValueDecimal decimal  `json:"valueDecimal"`
	ValueInteger decimal  `json:"valueInteger"`
	ValueString  *string  `json:"valueString"`
	ValueCoding  *coding  `json:"valueCoding"`
	Item         []qrItem `json:"item"`
}
