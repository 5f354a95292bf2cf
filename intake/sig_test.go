package intake

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ekbom"
)

// sigResult is Sig with the drug by id, for comparison.
type sigResult struct {
	Drug         string
	Matched      string
	DoseMg       *float64
	TimesPerDay  *float64
	DoseMgPer24h *float64
	Bedtime      bool
	PRN          bool
}

func TestParseSig(t *testing.T) {
	type r = sigResult
	f := ptr[float64]
	tests := []struct {
		sig  string
		want r
	}{
		{"gabapentin 300 mg tid", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), TimesPerDay: f(3)}},
		{"gabapentin 300 mg three times daily", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), TimesPerDay: f(3)}},
		{"Lyrica 75mg twice daily", r{Drug: "pregabalin", Matched: "lyrica", DoseMg: f(75), TimesPerDay: f(2)}},
		{"pramipexole 0.25 mg at bedtime", r{Drug: "pramipexole", Matched: "pramipexole", DoseMg: f(0.25), TimesPerDay: f(1), Bedtime: true}},
		{"Neupro 2 mg/24h patch", r{Drug: "rotigotine", Matched: "neupro", DoseMgPer24h: f(2)}},
		{"rotigotine 3 mg/24 hours patch daily", r{Drug: "rotigotine", Matched: "rotigotine", DoseMgPer24h: f(3), TimesPerDay: f(1)}},
		{"Neupro® 1 mg/24 h", r{Drug: "rotigotine", Matched: "neupro", DoseMgPer24h: f(1)}},
		{"OxyContin 10 mg q12h", r{Drug: "oxycodone", Matched: "oxycontin", DoseMg: f(10), TimesPerDay: f(2)}},
		{"ropinirole 1 mg nightly", r{Drug: "ropinirole", Matched: "ropinirole", DoseMg: f(1), TimesPerDay: f(1), Bedtime: true}},
		{"Horizant 600 mg once daily at 5pm", r{Drug: "gabapentin_enacarbil", Matched: "horizant", DoseMg: f(600), TimesPerDay: f(1)}},
		// Combination strengths: the drug's own component.
		{"carbidopa/levodopa 25/100 mg tid", r{Drug: "levodopa", Matched: "carbidopa/levodopa", DoseMg: f(100), TimesPerDay: f(3)}},
		{"levodopa/carbidopa 100/25 mg at bedtime", r{Drug: "levodopa", Matched: "levodopa/carbidopa", DoseMg: f(100), TimesPerDay: f(1), Bedtime: true}},
		{"Sinemet 25/100 mg x2", r{Drug: "levodopa", Matched: "sinemet", DoseMg: f(100), TimesPerDay: f(2)}},
		{"oxycodone/naloxone 10/5 mg bid", r{Drug: "oxycodone_naloxone", Matched: "oxycodone/naloxone", DoseMg: f(10), TimesPerDay: f(2)}},
		{"Targin 5/2.5 mg b.i.d.", r{Drug: "oxycodone_naloxone", Matched: "targin", DoseMg: f(5), TimesPerDay: f(2)}},
		{"oxycodone/acetaminophen 5/325 mg q6h prn", r{Drug: "oxycodone", Matched: "oxycodone", DoseMg: f(5), TimesPerDay: f(4), PRN: true}},
		{"acetaminophen/oxycodone 325/5 mg q4h prn", r{Drug: "oxycodone", Matched: "oxycodone", DoseMg: f(5), TimesPerDay: f(6), PRN: true}},
		{"Butrans 5 mcg/h patch", r{Drug: "buprenorphine", Matched: "butrans", DoseMgPer24h: f(0.12)}},
		{"buprenorphine 10 mcg/hr transdermal weekly", r{Drug: "buprenorphine", Matched: "buprenorphine", DoseMgPer24h: f(0.24), TimesPerDay: f(1.0 / 7)}},
		{"methadone 2.5 mg every 12 hours", r{Drug: "methadone", Matched: "methadone", DoseMg: f(2.5), TimesPerDay: f(2)}},
		{"clonazepam .5 mg qhs", r{Drug: "clonazepam", Matched: "clonazepam", DoseMg: f(0.5), TimesPerDay: f(1), Bedtime: true}},
		{"ropinirole 0,25 mg in the evening", r{Drug: "ropinirole", Matched: "ropinirole", DoseMg: f(0.25), TimesPerDay: f(1), Bedtime: true}},
		{"Requip 1,5mg before bed", r{Drug: "ropinirole", Matched: "requip", DoseMg: f(1.5), TimesPerDay: f(1), Bedtime: true}},
		{"ferric carboxymaltose 1,000 mg IV", r{Drug: "ferric_carboxymaltose", Matched: "ferric carboxymaltose", DoseMg: f(1000)}},
		{"Injectafer 0.75 g", r{Drug: "ferric_carboxymaltose", Matched: "injectafer", DoseMg: f(750)}},
		{"Horizant 600 mg every other day", r{Drug: "gabapentin_enacarbil", Matched: "horizant", DoseMg: f(600), TimesPerDay: f(0.5)}},
		{"gabapentin enacarbil 300 mg QOD", r{Drug: "gabapentin_enacarbil", Matched: "gabapentin enacarbil", DoseMg: f(300), TimesPerDay: f(0.5)}},
		{"ferrous sulfate 325 mg on alternate days", r{Drug: "ferrous_sulfate", Matched: "ferrous sulfate", DoseMg: f(325), TimesPerDay: f(0.5)}},
		{"lyrica75mg bid", r{Drug: "pregabalin", Matched: "lyrica", DoseMg: f(75), TimesPerDay: f(2)}},
		{"gabapentin 300mg x2", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), TimesPerDay: f(2)}},
		{"GABAPENTIN 300 MG 2X DAILY", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), TimesPerDay: f(2)}},
		{"2 x 300 mg gabapentin at night", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), TimesPerDay: f(1), Bedtime: true}},
		{"pregabalin 75 mg QID", r{Drug: "pregabalin", Matched: "pregabalin", DoseMg: f(75), TimesPerDay: f(4)}},
		{"tramadol 50 mg q8h", r{Drug: "tramadol", Matched: "tramadol", DoseMg: f(50), TimesPerDay: f(3)}},
		{"tramadol 50 mg every 4 hours", r{Drug: "tramadol", Matched: "tramadol", DoseMg: f(50), TimesPerDay: f(6)}},
		{"oxycodone 5 mg as needed", r{Drug: "oxycodone", Matched: "oxycodone", DoseMg: f(5), PRN: true}},
		{"Mirapex 0.125 mg daily", r{Drug: "pramipexole", Matched: "mirapex", DoseMg: f(0.125), TimesPerDay: f(1)}},
		{"vitamin C 250 mg od", r{Drug: "vitamin_c", Matched: "vitamin c", DoseMg: f(250), TimesPerDay: f(1)}},
		{"Gralise 600 mg once a day with dinner", r{Drug: "gabapentin", Matched: "gralise", DoseMg: f(600), TimesPerDay: f(1)}},
		{"gabapentin 900 mg/day", r{Drug: "gabapentin", Matched: "gabapentin", DoseMgPer24h: f(900)}},
		{"gabapentin 300 mg tid (900 mg/day)", r{Drug: "gabapentin", Matched: "gabapentin", DoseMg: f(300), DoseMgPer24h: f(900), TimesPerDay: f(3)}},
		{"oxycodone-naloxone 20/10 mg twice a day", r{Drug: "oxycodone_naloxone", Matched: "oxycodone-naloxone", DoseMg: f(20), TimesPerDay: f(2)}},
		{"low-dose naltrexone 4.5 mg qhs", r{Drug: "naltrexone", Matched: "low-dose naltrexone", DoseMg: f(4.5), TimesPerDay: f(1), Bedtime: true}},
		{"methadone 5 mg every 3 days", r{Drug: "methadone", Matched: "methadone", DoseMg: f(5), TimesPerDay: f(1.0 / 3)}},
		{"ferric carboxymaltose 750 mg once a week", r{Drug: "ferric_carboxymaltose", Matched: "ferric carboxymaltose", DoseMg: f(750), TimesPerDay: f(1.0 / 7)}},
		{"clonazepam 0.5 mg twice weekly", r{Drug: "clonazepam", Matched: "clonazepam", DoseMg: f(0.5), TimesPerDay: f(2.0 / 7)}},
		// Nothing is guessed.
		{"ferumoxytol 510 mg once a month", r{Drug: "ferumoxytol", Matched: "ferumoxytol", DoseMg: f(510)}},
		{"gabapentin 300-600 mg at night", r{Drug: "gabapentin", Matched: "gabapentin", TimesPerDay: f(1), Bedtime: true}},
		{"gabapentin 1 capsule", r{Drug: "gabapentin", Matched: "gabapentin"}},
		{"Sinemet 25/100 1 tab", r{Drug: "levodopa", Matched: "sinemet"}},
		{"Lyrica 75 mgs daily", r{Drug: "pregabalin", Matched: "lyrica", TimesPerDay: f(1)}},
	}
	b := base(t)
	for _, tc := range tests {
		t.Run(tc.sig, func(t *testing.T) {
			sig, err := ParseSig(tc.sig, b)
			if err != nil {
				t.Fatalf("ParseSig: %v", err)
			}
			got := sigResult{Matched: sig.Matched, DoseMg: sig.DoseMg, TimesPerDay: sig.TimesPerDay,
				DoseMgPer24h: sig.DoseMgPer24h, Bedtime: sig.Bedtime, PRN: sig.PRN}
			if sig.Drug != nil {
				got.Drug = sig.Drug.ID
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSig(%q) mismatch (-want +got):\n%s", tc.sig, diff)
			}
		})
	}
}

func TestParseSigErrors(t *testing.T) {
	tests := []struct {
		name, sig, msg string
	}{
		{"empty", "", "empty sig"},
		{"blank", "  \t ", "empty sig"},
		{"too long", "gabapentin 300 mg " + strings.Repeat("tid ", 130), "at most 500"},
		{"no drug", "300 mg three times daily", "no known drug name"},
		{"unknown drug", "magnesium 400 mg at night", "no known drug name"},
		{"code only", "7804 10 mg", "no known drug name"}, // RxNorm codes are not read in free text
		{"inside a word", "pregabalinic 75 mg", "no known drug name"},
	}
	b := base(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := ParseSig(tc.sig, b)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("ParseSig(%q) error = %v, want one containing %q", tc.sig, err, tc.msg)
			}
			if !errors.Is(err, ekbom.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if diff := cmp.Diff(Sig{}, sig); diff != "" {
				t.Errorf("Sig not zero on error (-want +got):\n%s", diff)
			}
		})
	}
}
