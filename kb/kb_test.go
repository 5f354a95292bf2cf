package kb

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDefaultLoads(t *testing.T) {
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// Every AASM 2025 adult recommendation (20) plus the ESRD three and the
	// good practice statement must be present.
	adult, esrd := 0, 0
	for _, g := range b.Guideline {
		switch g.Population {
		case "adults":
			if g.Number != "GPS" {
				adult++
			}
		case "adults_esrd":
			esrd++
		}
	}
	if adult != 20 || esrd != 3 {
		t.Errorf("guideline has %d adult and %d ESRD recommendations, want 20 and 3", adult, esrd)
	}
	// Only cabergoline is strong against (conflict C3).
	for _, g := range b.Guideline {
		if g.Direction == "against" && g.Strength == "strong" && g.ID != "aasm.cabergoline" {
			t.Errorf("%s is strong against; only cabergoline should be", g.ID)
		}
	}
	// Pramipexole's grade is verified verbatim; ropinirole's is not.
	if g, _ := b.GuidelineRec("aasm.pramipexole"); !g.Verified() {
		t.Error("aasm.pramipexole should be verified")
	}
	if g, _ := b.GuidelineRec("aasm.ropinirole"); g.Verified() {
		t.Error("aasm.ropinirole should not be verified")
	}
}

func TestLookupDrug(t *testing.T) {
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"Neurontin": "gabapentin", "LYRICA": "pregabalin", "Horizant": "gabapentin_enacarbil",
		"Mirapex": "pramipexole", "Requip": "ropinirole", "Neupro": "rotigotine",
		"OxyContin": "oxycodone", "Targin": "oxycodone_naloxone", "7804": "oxycodone",
		"carbidopa/levodopa": "levodopa", " injectafer ": "ferric_carboxymaltose", "Zoloft": "sertraline",
		"divalproex": "valproate", "low-dose naltrexone": "naltrexone",
	} {
		d, ok := b.LookupDrug(in)
		if !ok || d.ID != want {
			t.Errorf("LookupDrug(%q) = %v, want %s", in, d, want)
		}
	}
	// Unverified codes are not used for matching.
	if d, ok := b.LookupDrug("25480"); ok {
		t.Errorf("unverified RxCUI 25480 matched %s", d.ID)
	}
}

func TestNoRuleIncreasesDopaminergic(t *testing.T) {
	b, _ := Default()
	for _, r := range b.RuleList {
		if r.Action != "increase" {
			continue
		}
		if d, ok := b.Drug(r.Target); ok && d.Dopaminergic {
			t.Errorf("rule %s increases %s", r.ID, r.Target)
		}
		if r.Target == "dopamine_agonist" || r.Target == "dopamine_precursor" {
			t.Errorf("rule %s increases a dopaminergic class", r.ID)
		}
	}
}

// mutate returns the embedded data with one file's text changed.
func mutate(t *testing.T, name, old, new string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(Data(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(Data(), p)
		if err != nil {
			return err
		}
		if p == name {
			if !strings.Contains(string(data), old) {
				t.Fatalf("%s does not contain %q", name, old)
			}
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		m[p] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadReportsProblems(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"unknown grade", "guideline.yaml", "certainty: very_low", "certainty: tiny", `unknown certainty "tiny"`},
		{"dangling citation", "rules/5_second_line.yaml", "sources: [dipyridamole_rct2021]", "sources: [nobody2020]", `unknown source "nobody2020"`},
		{"missing unit", "thresholds.yaml", "unit: ng/mL, sources: [aasm2025], verified: true,\n     note: \"Give oral", "unit: \"\", sources: [aasm2025], verified: true,\n     note: \"Give oral", "missing unit"},
		{"unknown field", "drugs.yaml", "brands: [Neupro]", "brandz: [Neupro]", "field brandz not found"},
		{"unknown conflict", "rules/4_alpha2delta.yaml", "conflicts: [C8, C9]", "conflicts: [C99]", `unknown conflict "C99"`},
		{"increase a dopamine agonist", "rules/3_augmentation.yaml", "action: continue\n    target: dopamine_agonist", "action: increase\n    target: pramipexole", "never increase"},
		{"unknown warning", "rules/9_warnings.yaml", "code: pregnancy,", "code: pregnant,", `unknown warning code "pregnant"`},
		{"unused source", "sources.yaml", "sources:\n", "sources:\n  - {id: orphan, short: O, kind: review, year: 2020, citation: Orphan.}\n", `source "orphan" is never cited`},
		{"choice of the wrong class", "choices.yaml", "drugs: [oxycodone, methadone]", "drugs: [oxycodone, gabapentin]", `"gabapentin" is not a drug of class opioid`},
		{"unverified RLS diagnosis code", "codes.yaml", `icd10cm: [G25.81], verified: true`, `icd10cm: [G25.81], verified: false`, "must be verified"},
		{"no RLS diagnosis codes", "codes.yaml", "- {diagnosis: rls, snomed: [\"32914008\"], icd10cm: [G25.81], verified: true, source: snomed_icd,\n     names: [\"restless leg\", \"willis-ekbom\", \"willis ekbom\"]}", "[]", "would serve nobody"},
		{"critical moderate warning", "rules/9_warnings.yaml", "code: renal_dosing, severity: moderate,", "code: renal_dosing, severity: moderate, critical: true,", "only a high-severity warning can be critical"},
		{"duplicate brand", "drugs.yaml", "brands: [Lyrica]", "brands: [Lyrica, Neurontin]", `"Neurontin" is used by both`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mutate(t, tc.file, tc.old, tc.new))
			var kerr *Error
			if !errors.As(err, &kerr) {
				t.Fatalf("Load = %v, want *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	m := mutate(t, "guideline.yaml", "certainty: very_low", "certainty: tiny")
	data, _ := fs.ReadFile(m, "thresholds.yaml")
	m.(fstest.MapFS)["thresholds.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(data), "unit: hours", "unit: \"\"", 1))}
	_, err := Load(m)
	var kerr *Error
	if !errors.As(err, &kerr) || len(kerr.Problems) < 2 {
		t.Fatalf("want at least two problems, got %v", err)
	}
}
