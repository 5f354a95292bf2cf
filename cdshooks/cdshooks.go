// Package cdshooks maps between CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/)
// and ekbom's domain types: the discovery document, the request of the
// patient-view, order-select and order-sign hooks, the cards of the
// response, and the feedback on those cards.
//
// The package is pure: it does no I/O, holds no HTTP code and does not read
// the clock. internal/web serves it over HTTP, verifies the EHR's JWT,
// fetches missing prefetch data from the EHR's FHIR server and stores what
// was served.
//
// Mapping in short:
//
//   - PatientView reads the prefetch with fhir.ReadPrefetch, normalises it
//     with intake.Normalize, runs the engine and turns the plan into at most
//     six cards: one per high or moderate safety warning (at most three),
//     one per plan step that asks for something now (the first two steps
//     with a priority-1 recommendation) and a summary card with the plan's
//     priority-1 recommendations and a link to the full plan.
//   - OrderCheck (order-select and order-sign) reads the drafted
//     MedicationRequests of context.draftOrders through the same reader and
//     adds them to the patient's current medications, so that the drafted
//     order counts in every total; a drafted order for an ingredient the
//     patient already takes is read as that ingredient's new dose. It then
//     flags a new or increased dopaminergic drug, cabergoline, a drug that
//     worsens RLS, an opioid with another respiratory depressant or
//     untreated sleep apnea, a gabapentinoid above the renal limit, and any
//     other engine warning the drafted orders bring.
//
// Card ids are not random: each card's uuid is derived from the hook
// instance, the service and the card's content (see cardUUID), so the same
// request always gives the same response.
package cdshooks

import (
	"encoding/json"

	"ekbom"
	"ekbom/fhir"
)

// Hooks ekbom answers.
const (
	HookPatientView = "patient-view"
	HookOrderSelect = "order-select"
	HookOrderSign   = "order-sign"
)

// Service ids: the {id} of {baseUrl}/cds-services/{id}.
const (
	PatientViewID = "ekbom-rls-patient-view"
	OrderSelectID = "ekbom-rls-order-select"
	OrderSignID   = "ekbom-rls-order-sign"
)

// Request is a CDS Hooks service call.
type Request struct {
	Hook              string             `json:"hook"`
	HookInstance      string             `json:"hookInstance"`
	FHIRServer        string             `json:"fhirServer,omitempty"`
	FHIRAuthorization *FHIRAuthorization `json:"fhirAuthorization,omitempty"`
	Context           Context            `json:"context"`
	// Prefetch maps a prefetch key of the service's discovery entry to a
	// FHIR resource or searchset Bundle, or null when the EHR has no data.
	Prefetch  map[string]json.RawMessage `json:"prefetch,omitempty"`
	Extension json.RawMessage            `json:"extension,omitempty"`
}

// FHIRAuthorization is the access token an EHR may pass for its FHIR server.
// Its String method hides the token, so it never reaches a log.
type FHIRAuthorization struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"` // seconds
	Scope       string `json:"scope"`
	Subject     string `json:"subject"`
}

func (a FHIRAuthorization) String() string { return "FHIRAuthorization{token hidden}" }

// GoString hides the token from %#v too.
func (a FHIRAuthorization) GoString() string { return a.String() }

// Context is the hook context of the three hooks ekbom answers.
type Context struct {
	UserID      string `json:"userId,omitempty"`
	PatientID   string `json:"patientId"`
	EncounterID string `json:"encounterId,omitempty"`
	// Selections (order-select) are the references ("MedicationRequest/103")
	// of the orders just selected, all of them in DraftOrders.
	Selections []string `json:"selections,omitempty"`
	// DraftOrders (order-select, order-sign) is a Bundle of the orders being
	// written.
	DraftOrders json.RawMessage `json:"draftOrders,omitempty"`
}

// Response is a CDS Hooks service response. Cards is never nil, so it is
// written as [] when there is nothing to say.
type Response struct {
	Cards         []Card   `json:"cards"`
	SystemActions []Action `json:"systemActions,omitempty"`
}

// Card indicators.
const (
	Info     = ekbom.IndicatorInfo
	Warning  = ekbom.IndicatorWarning
	Critical = ekbom.IndicatorCritical
)

// Card is one piece of decision support.
type Card struct {
	UUID string `json:"uuid,omitempty"`
	// Summary is one sentence of fewer than 140 characters.
	Summary string `json:"summary"`
	// Detail is GitHub-flavoured Markdown.
	Detail            string       `json:"detail,omitempty"`
	Indicator         string       `json:"indicator"` // info | warning | critical
	Source            Source       `json:"source"`
	Suggestions       []Suggestion `json:"suggestions,omitempty"`
	SelectionBehavior string       `json:"selectionBehavior,omitempty"` // at-most-one | any; set with suggestions
	OverrideReasons   []Coding     `json:"overrideReasons,omitempty"`
	Links             []Link       `json:"links,omitempty"`
}

// Source names where a card's guidance comes from.
type Source struct {
	Label string  `json:"label"`
	URL   string  `json:"url,omitempty"`
	Icon  string  `json:"icon,omitempty"`
	Topic *Coding `json:"topic,omitempty"`
}

// Coding is a code in a code system.
type Coding struct {
	Code    string `json:"code"`
	System  string `json:"system"`
	Display string `json:"display,omitempty"`
}

// Suggestion is a set of actions the clinician can accept together.
type Suggestion struct {
	Label         string   `json:"label"`
	UUID          string   `json:"uuid,omitempty"`
	IsRecommended bool     `json:"isRecommended,omitempty"`
	Actions       []Action `json:"actions,omitempty"`
}

// Action types.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Action is one change a suggestion proposes: a resource to create or
// update, or the relative reference (ResourceID) of one to delete.
type Action struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Resource    json.RawMessage `json:"resource,omitempty"`
	ResourceID  string          `json:"resourceId,omitempty"`
}

// Link types.
const (
	LinkAbsolute = "absolute"
	LinkSMART    = "smart"
)

// Link opens a page (absolute) or a SMART app (smart).
type Link struct {
	Label      string `json:"label"`
	URL        string `json:"url"`
	Type       string `json:"type"`
	AppContext string `json:"appContext,omitempty"`
}

// Result is what a hook call produced: the response, and what internal/web
// keeps of it.
type Result struct {
	Response Response
	// Plan is the engine's plan behind the cards: the patient's plan for
	// patient-view, the plan with the drafted orders for order checks. Nil
	// when the patient is out of scope (under 18).
	Plan *ekbom.Plan
	// PatientRef is "Patient/<context.patientId>".
	PatientRef string
	// Notes lists what the FHIR reader read but did not use.
	Notes []fhir.Note
	// Silent says why a valid call got no cards because the patient is not
	// one ekbom is for: no restless legs syndrome on the record (see
	// rlsGate). Empty otherwise. Plan is nil then.
	Silent string
}
