package cdshooks

import "testing"

// BenchmarkDecodeRequest decodes the realistic patient-view call (75 KB,
// about 60 resources in the prefetch).
func BenchmarkDecodeRequest(b *testing.B) {
	body := readCase(b, "patient-view/realistic-60")
	s := service(b, PatientViewID)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(body, s); err != nil {
			b.Fatal(err)
		}
	}
}
