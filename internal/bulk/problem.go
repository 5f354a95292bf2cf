package bulk

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
)

// Problem is something in the export that could not be read as it stands,
// with where it is. Problems are never fatal: the line, resource or patient
// is left out (or read in part) and the run goes on.
type Problem struct {
	Kind string `json:"kind"`
	// File and Line locate the input line (Line counts from 1).
	File string `json:"file,omitempty"`
	Line int64  `json:"line,omitempty"`
	// Resource names the resource ("Observation/abc") when it is known.
	Resource string `json:"resource,omitempty"`
	// Patient is the patient reference ("Patient/x") the problem is about.
	Patient string `json:"patient,omitempty"`
	Message string `json:"message"`
	// Details lists the individual problems of an invalid patient, each
	// with the file and line of the resource it is about when known.
	Details []string `json:"details,omitempty"`
}

// Where returns "file:line", "file" or "".
func (p Problem) Where() string {
	switch {
	case p.File != "" && p.Line > 0:
		return p.File + ":" + strconv.FormatInt(p.Line, 10)
	case p.File != "":
		return p.File
	}
	return ""
}

// Problem kinds.
const (
	// Lines.
	KindBadJSON        = "bad_json"         // not valid JSON, or not an object
	KindLineTooLong    = "line_too_long"    // longer than Options.MaxLineBytes
	KindNoResourceType = "no_resource_type" // a JSON object without resourceType
	KindNoID           = "no_id"            // a Patient or Medication without id: cannot be linked
	KindNoPatient      = "no_patient_reference"
	KindDuplicate      = "duplicate_id" // the same type and id again: the first is kept
	KindSharedLimit    = "shared_limit" // too many shared Medication resources to hold
	// Files.
	KindTruncated  = "truncated_file"  // the stream ends early (truncated gzip)
	KindReadError  = "read_error"      // a corrupt stream or a read error
	KindUnreadable = "unreadable_file" // cannot be opened
	KindNoPatients = "no_patients"     // the export holds no Patient resource at all
	// Patients.
	KindMissingPatient = "missing_patient"           // resources about a patient who is not in the export
	KindPatientOnly    = "patient_without_resources" // a Patient and nothing else (planned anyway)
	KindInvalidPatient = "invalid_patient"           // the FHIR reader or intake rejects the record
	KindOutOfScope     = "out_of_scope"              // under 18
	KindEvaluate       = "evaluate_error"            // the engine failed (a bug)
)

// kindText explains each kind in the report.
var kindText = map[string]string{
	KindBadJSON:        "Lines that are not valid JSON or not a JSON object: not read.",
	KindLineTooLong:    "Lines longer than the limit: not read.",
	KindNoResourceType: "JSON objects without a resourceType: not read.",
	KindNoID:           "Patients or Medications without an id, so nothing can refer to them: not read.",
	KindNoPatient:      "Resources with no subject or patient reference to a Patient: not read.",
	KindDuplicate:      "A resource type and id seen again: the first is kept, the repeat is not read.",
	KindSharedLimit:    "Shared Medication resources beyond the memory limit: not read.",
	KindTruncated:      "Files that end early (a truncated gzip stream): the whole lines before the end are read.",
	KindReadError:      "Files with a corrupt stream or a read error: the whole lines before the error are read.",
	KindUnreadable:     "Files that cannot be opened.",
	KindNoPatients:     "The export holds no Patient resource (is Patient.ndjson missing?).",
	KindMissingPatient: "Resources about a patient whose Patient resource is not in the export: no plan.",
	KindPatientOnly:    "A Patient with no other resources: planned from age and sex alone.",
	KindInvalidPatient: "Patients whose record the FHIR reader or intake rejects: no plan; every problem is listed.",
	KindOutOfScope:     "Patients outside ekbom's scope (under 18): no plan.",
	KindEvaluate:       "Patients the engine failed on (a bug; please report it): no plan.",
}

// problemSink writes problems as NDJSON and counts them.
type problemSink struct {
	w       *bufio.Writer
	enc     *json.Encoder
	counts  map[string]int64
	samples map[string][]Problem
	limit   int
	err     error
}

func newProblemSink(w io.Writer, limit int) *problemSink {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &problemSink{w: bw, enc: enc, counts: map[string]int64{}, samples: map[string][]Problem{}, limit: limit}
}

func (s *problemSink) add(p Problem) {
	s.counts[p.Kind]++
	if len(s.samples[p.Kind]) < s.limit {
		s.samples[p.Kind] = append(s.samples[p.Kind], p)
	}
	if s.err == nil {
		s.err = s.enc.Encode(p)
	}
}

func (s *problemSink) flush() error {
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}
