package cdshooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"ekbom"
)

// FeedbackRequest is the body of POST {baseUrl}/cds-services/{id}/feedback.
type FeedbackRequest struct {
	Feedback []FeedbackItem `json:"feedback"`
}

// FeedbackItem is what the clinician did with one card.
type FeedbackItem struct {
	Card                string               `json:"card"`    // the card's uuid
	Outcome             string               `json:"outcome"` // accepted | overridden
	AcceptedSuggestions []AcceptedSuggestion `json:"acceptedSuggestions,omitempty"`
	OverrideReason      *OverrideReason      `json:"overrideReason,omitempty"`
	OutcomeTimestamp    string               `json:"outcomeTimestamp"` // ISO 8601, UTC
}

// AcceptedSuggestion names an accepted suggestion by its uuid.
type AcceptedSuggestion struct {
	ID string `json:"id"`
}

// OverrideReason is the reason the clinician gave for overriding a card.
type OverrideReason struct {
	Reason      *Coding `json:"reason,omitempty"`
	UserComment string  `json:"userComment,omitempty"`
}

// Limits of a feedback request.
const (
	MaxFeedbackItems = 100
	maxComment       = 2000
)

// DecodeFeedback reads a feedback request for service serviceID sent by
// actor. Every problem is reported at once in an *ekbom.ValidationError with
// paths such as "feedback[0].outcomeTimestamp". Override reasons are kept as
// sent: the specification lets EHRs add their own.
func DecodeFeedback(data []byte, serviceID, actor string) ([]ekbom.Feedback, error) {
	verr := &ekbom.ValidationError{}
	var req FeedbackRequest
	if err := json.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &req); err != nil {
		jsonProblem(verr, "", err)
		return nil, verr
	}
	switch {
	case req.Feedback == nil:
		verr.Add("feedback", "is required")
	case len(req.Feedback) > MaxFeedbackItems:
		verr.Add("feedback", "has %d entries; at most %d per request", len(req.Feedback), MaxFeedbackItems)
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	out := make([]ekbom.Feedback, 0, len(req.Feedback))
	for i, it := range req.Feedback {
		path := func(f string) string { return fmt.Sprintf("feedback[%d].%s", i, f) }
		f := ekbom.Feedback{ServiceID: serviceID, CardUUID: strings.TrimSpace(it.Card), Outcome: it.Outcome, Actor: actor}
		if f.CardUUID == "" || len(f.CardUUID) > 100 {
			verr.Add(path("card"), "is required: the card's uuid (at most 100 characters)")
		}
		switch it.Outcome {
		case ekbom.FeedbackAccepted:
			if len(it.AcceptedSuggestions) == 0 {
				verr.Add(path("acceptedSuggestions"), "is required for an accepted outcome")
			}
			for j, s := range it.AcceptedSuggestions {
				if s.ID == "" || len(s.ID) > 100 {
					verr.Add(path(fmt.Sprintf("acceptedSuggestions[%d].id", j)), "is required (at most 100 characters)")
				}
				f.AcceptedSuggestions = append(f.AcceptedSuggestions, s.ID)
			}
		case ekbom.FeedbackOverridden:
			if len(it.AcceptedSuggestions) > 0 {
				verr.Add(path("acceptedSuggestions"), "must be absent for an overridden outcome")
			}
		case "":
			verr.Add(path("outcome"), "is required: accepted or overridden")
		default:
			verr.Add(path("outcome"), "is %q; want accepted or overridden", truncate(it.Outcome, 40))
		}
		if r := it.OverrideReason; r != nil {
			if r.Reason != nil {
				if r.Reason.Code == "" {
					verr.Add(path("overrideReason.reason.code"), "is required")
				}
				f.OverrideSystem, f.OverrideCode, f.OverrideDisplay = r.Reason.System, r.Reason.Code, r.Reason.Display
			}
			f.UserComment = r.UserComment
			if utf8.RuneCountInString(f.UserComment) > maxComment {
				verr.Add(path("overrideReason.userComment"), "is longer than %d characters", maxComment)
			}
			for _, v := range []string{f.OverrideSystem, f.OverrideCode, f.OverrideDisplay} {
				if len(v) > 500 {
					verr.Add(path("overrideReason.reason"), "has a field longer than 500 bytes")
					break
				}
			}
		}
		t, err := time.Parse(time.RFC3339Nano, it.OutcomeTimestamp)
		switch {
		case it.OutcomeTimestamp == "":
			verr.Add(path("outcomeTimestamp"), "is required")
		case err != nil:
			verr.Add(path("outcomeTimestamp"), "%q is not an ISO 8601 timestamp such as 2026-11-20T14:03:07Z", truncate(it.OutcomeTimestamp, 40))
		default:
			f.OutcomeAt = t.UTC()
		}
		out = append(out, f)
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
