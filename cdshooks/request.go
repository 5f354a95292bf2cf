package cdshooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"ekbom"
)

// DecodeRequest reads a service call for s. Bad input (not JSON, a wrong
// type, a missing hook, hookInstance or context.patientId, the wrong hook
// for the service, an order hook without draftOrders) is an
// *ekbom.ValidationError whose paths point into the request JSON. Unknown
// fields are allowed, as the specification's extension rules require.
//
// The prefetch values (and extension) of the Request returned are slices of
// data, not copies: data must not change while the Request is in use.
func DecodeRequest(data []byte, s Service) (*Request, error) {
	verr := &ekbom.ValidationError{}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var req Request
	if !decodeRequestFast(data, &req) {
		req = Request{}
		if err := json.Unmarshal(data, &req); err != nil {
			jsonProblem(verr, "", err)
			return nil, verr
		}
	}
	switch {
	case req.Hook == "":
		verr.Add("hook", "is required")
	case req.Hook != s.Hook:
		verr.Add("hook", "is %q; service %s answers %s", truncate(req.Hook, 40), s.ID, s.Hook)
	}
	if strings.TrimSpace(req.HookInstance) == "" {
		verr.Add("hookInstance", "is required")
	} else if len(req.HookInstance) > 128 {
		verr.Add("hookInstance", "is longer than 128 characters")
	}
	c := req.Context
	switch {
	case c.PatientID == "":
		verr.Add("context.patientId", "is required")
	case !fhirID(c.PatientID):
		verr.Add("context.patientId", "%q is not a FHIR id", truncate(c.PatientID, 40))
	}
	if req.FHIRServer != "" {
		if u, err := url.Parse(req.FHIRServer); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			verr.Add("fhirServer", "is not an absolute http(s) URL")
		}
	}
	if a := req.FHIRAuthorization; a != nil {
		if req.FHIRServer == "" {
			verr.Add("fhirServer", "is required with fhirAuthorization")
		}
		if a.AccessToken == "" {
			verr.Add("fhirAuthorization.access_token", "is required")
		}
		if !strings.EqualFold(a.TokenType, "Bearer") {
			verr.Add("fhirAuthorization.token_type", "must be Bearer")
		}
	}
	if s.Hook == HookOrderSelect || s.Hook == HookOrderSign {
		if isNull(c.DraftOrders) {
			verr.Add("context.draftOrders", "is required: a Bundle of the orders being written")
		}
	}
	if s.Hook == HookOrderSelect {
		if len(c.Selections) == 0 {
			verr.Add("context.selections", "is required: the references of the selected orders")
		}
		for i, sel := range c.Selections {
			typ, id, ok := strings.Cut(sel, "/")
			if !ok || typ == "" || !fhirID(id) {
				verr.Add(fmt.Sprintf("context.selections[%d]", i), "%q is not a reference like MedicationRequest/123", truncate(sel, 60))
			}
		}
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return &req, nil
}

// jsonProblem records a JSON decoding error at path.
func jsonProblem(verr *ekbom.ValidationError, path string, err error) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		verr.Add(path, "not valid JSON (at byte %d): %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		p := path
		if te.Field != "" {
			p = join(path, te.Field)
		}
		verr.Add(p, "want %s, got a JSON %s", kind(te.Type.Kind().String()), te.Value)
	default:
		verr.Add(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func kind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	}
	return "another type"
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// truncate shortens s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
