package cdshooks

import (
	"errors"
	"path/filepath"
	"testing"

	"ekbom"
)

// FuzzPatientView feeds arbitrary bytes through the request decoder and the
// patient-view mapping: any input must give cards or a validation error,
// never a panic or another error. Seeds are the golden requests.
func FuzzPatientView(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "cdshooks", "*", "*.request.json"))
	for _, file := range files {
		f.Add(readCase(f, file[len(filepath.Join("..", "testdata", "cdshooks"))+1:len(file)-len(".request.json")]))
	}
	f.Add([]byte(`{"hook":"patient-view","hookInstance":"i","context":{"patientId":"p"},"prefetch":{"patient":{"resourceType":"Patient","id":"p","gender":"male","birthDate":"1960"}}}`))
	e := testEngine(f)
	pv := service(f, PatientViewID)
	sign := service(f, OrderSignID)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []Service{pv, sign} {
			req, err := DecodeRequest(data, s)
			if err != nil {
				var verr *ekbom.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("decode: %v is not a ValidationError", err)
				}
				continue
			}
			var res *Result
			if s.Hook == HookPatientView {
				res, err = PatientView(req, e, Options{Now: now})
			} else {
				res, err = OrderCheck(req, e, Options{Now: now})
			}
			if err != nil {
				var verr *ekbom.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("%s: %v is not a ValidationError", s.Hook, err)
				}
				continue
			}
			if res.Response.Cards == nil {
				t.Fatal("nil cards")
			}
			for _, c := range res.Response.Cards {
				if len([]rune(c.Summary)) >= 140 || c.UUID == "" {
					t.Fatalf("card %+v", c)
				}
			}
		}
	})
}
