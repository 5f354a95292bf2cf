package cdshooks

import (
	"errors"
	"strings"

	"ekbom"
)

// OperationOutcome is a FHIR R4 OperationOutcome: how ekbom reports a request
// it cannot read (HTTP 400) or answer (HTTP 412).
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"` // always "OperationOutcome"
	Issue        []Issue `json:"issue"`
}

// Issue is one problem of an OperationOutcome.
type Issue struct {
	Severity    string   `json:"severity"` // fatal | error | warning | information
	Code        string   `json:"code"`     // FHIR issue-type: structure, required, value, invalid, not-found, …
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// Outcome turns err into an OperationOutcome: one issue per problem of an
// *ekbom.ValidationError, with the problem's path in the request JSON as
// the expression; any other error becomes one generic issue whose text is
// not shown (it may hold internal detail).
func Outcome(err error) OperationOutcome {
	oo := OperationOutcome{ResourceType: "OperationOutcome"}
	var verr *ekbom.ValidationError
	if !errors.As(err, &verr) {
		oo.Issue = []Issue{{Severity: "error", Code: "exception", Diagnostics: "the request could not be processed"}}
		return oo
	}
	for _, p := range verr.Problems {
		is := Issue{Severity: "error", Code: issueCode(p.Message), Diagnostics: p.Message}
		if p.Path != "" {
			is.Expression = []string{p.Path}
		}
		oo.Issue = append(oo.Issue, is)
	}
	if len(oo.Issue) == 0 {
		oo.Issue = []Issue{{Severity: "error", Code: "invalid", Diagnostics: "invalid request"}}
	}
	return oo
}

// MissingOutcome is the OperationOutcome of a 412: the prefetch keys that
// were neither sent nor fetchable.
func MissingOutcome(keys []string, why string) OperationOutcome {
	oo := OperationOutcome{ResourceType: "OperationOutcome"}
	for _, k := range keys {
		oo.Issue = append(oo.Issue, Issue{
			Severity: "error", Code: "required",
			Diagnostics: "prefetch " + k + " is missing and " + why,
			Expression:  []string{"prefetch." + k},
		})
	}
	return oo
}

// issueCode picks the FHIR issue type that fits a problem message.
func issueCode(msg string) string {
	switch {
	case strings.HasPrefix(msg, "not valid JSON"), strings.HasPrefix(msg, "want "):
		return "structure"
	case strings.HasPrefix(msg, "missing"), strings.HasPrefix(msg, "is required"), strings.HasPrefix(msg, "no "):
		return "required"
	}
	return "value"
}
