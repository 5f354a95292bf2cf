// Package schema publishes the JSON Schemas of ekbom's patient input and plan
// output.
//
// The schemas are hand-written (JSON Schema draft 2020-12) with descriptions
// and units, so that EHR integrations and analytics can read them as
// documentation. They follow the public contract (shared/spec/contract.md)
// and mirror the json tags of ekbom.Patient and ekbom.Plan; the package's
// tests fail when the Go types and the schemas drift apart.
//
// The patient schema checks shape and hard ranges only. ekbom's own reader
// (package intake) is the authority on input: it also checks lab units,
// dates against as_of, drug names and the age limit, and it accepts YAML.
package schema

import _ "embed"

//go:embed patient.schema.json
var patient []byte

//go:embed plan.schema.json
var plan []byte

// Patient returns the JSON Schema of a patient record (contract §1). The
// caller may keep the slice; each call returns a fresh copy.
func Patient() []byte { return clone(patient) }

// Plan returns the JSON Schema of a plan (contract §2). The caller may keep
// the slice; each call returns a fresh copy.
func Plan() []byte { return clone(plan) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
