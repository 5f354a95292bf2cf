package sqlstore

import (
	"encoding/json"

	"ekbom/jsonscan"
)

// validJSON reports whether data is valid JSON, as json.Valid does.
// SaveCardsServed checks every plan (about 25 KB for a patient-view call),
// and json.Valid's byte-at-a-time state machine takes several times longer
// than this strict scanner. The scanner only ever accepts valid JSON; what
// it refuses is checked again by json.Valid, so the answer is json.Valid's
// in every case (jsonvalid_test.go compares the two).
func validJSON(data []byte) bool {
	return fastValid(data) || json.Valid(data)
}

// maxValidDepth is the nesting depth beyond which fastValid refuses
// (json.Valid allows 10,000).
const maxValidDepth = jsonscan.DefaultMaxDepth

// fastValid reports whether data is one JSON value with optional
// whitespace around it. It may refuse valid JSON nested deeper than
// maxValidDepth.
func fastValid(data []byte) bool { return jsonscan.Valid(data) }
