package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"ekbom"
)

// TestSamplePatientRoundTrip checks the fixture survives JSON exactly as
// stored says: only the json:"-" fields are lost.
func TestSamplePatientRoundTrip(t *testing.T) {
	p := SamplePatient(day(2026, time.March, 14))
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got ekbom.Patient
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if d := diff(stored(p), got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if p.Medications[0].Resolved.Ingredient == "" || !p.Labs[1].Derived {
		t.Error("stored changed the fixture it was given")
	}
}
