package engine_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ekbom"
	"ekbom/engine"
	"ekbom/intake"
	"ekbom/kb"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite plan.golden.json files (a clinical change: review the diff)")

// expectation is a vignette's hand-checked expected behaviour (expect.yaml).
// It is written from the sources, independently of the golden file, so a
// golden that drifts from the clinical intent fails here.
type expectation struct {
	Status      string             `yaml:"status"`
	Pathway     string             `yaml:"pathway"`
	Band        string             `yaml:"band"`
	Rules       []string           `yaml:"rules"`        // must fire
	NotRules    []string           `yaml:"not_rules"`    // must not fire
	Warnings    []string           `yaml:"warnings"`     // codes that must appear
	NotWarnings []string           `yaml:"not_warnings"` // codes that must not
	Findings    []string           `yaml:"findings"`     // finding codes
	Actions     map[string]string  `yaml:"actions"`      // target → action that must appear
	NoStart     []string           `yaml:"no_start"`     // targets or classes never started/considered
	Taking      []string           `yaml:"currently_taking"`
	Missing     []string           `yaml:"missing"` // substrings expected in missing
	Conflicts   []string           `yaml:"conflicts"`
	MaxDailyMg  map[string]float64 `yaml:"max_daily_mg"` // target → ceiling of any dose/schedule
}

func newEngine(tb testing.TB) *engine.Engine {
	tb.Helper()
	b, err := kb.Default()
	if err != nil {
		tb.Fatal(err)
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func evaluateFile(tb testing.TB, e *engine.Engine, path string) *ekbom.Plan {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := intake.Read(data, "", e.KB(), intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	plan, err := e.Evaluate(p)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return plan
}

func marshal(tb testing.TB, plan *ekbom.Plan) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plan); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestVignettes(t *testing.T) {
	e := newEngine(t)
	dirs, _ := filepath.Glob("../testdata/vignettes/*")
	if len(dirs) == 0 {
		t.Fatal("no vignettes found")
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			plan := evaluateFile(t, e, filepath.Join(dir, "patient.yaml"))
			got := marshal(t, plan)
			golden := filepath.Join(dir, "plan.golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("plan differs from %s (-want +got):\n%s", golden, diff)
			}
			var x expectation
			data, err := os.ReadFile(filepath.Join(dir, "expect.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&x); err != nil {
				t.Fatalf("expect.yaml: %v", err)
			}
			checkExpectation(t, plan, x)
		})
	}
}

func checkExpectation(t *testing.T, plan *ekbom.Plan, x expectation) {
	t.Helper()
	rules := map[string]bool{}
	actions := map[string][]string{}
	var recs []ekbom.Recommendation
	for _, s := range plan.Steps {
		for _, r := range s.Recommendations {
			rules[r.Rule] = true
			actions[r.Target] = append(actions[r.Target], string(r.Action))
			recs = append(recs, r)
		}
	}
	warnings := map[string]bool{}
	for _, w := range plan.Warnings {
		warnings[w.Code] = true
	}
	findings := map[string]bool{}
	for _, f := range plan.Findings {
		findings[f.Code] = true
	}
	if x.Status != "" && string(plan.Status) != x.Status {
		t.Errorf("status = %s, want %s (reasons %v)", plan.Status, x.Status, plan.StatusReasons)
	}
	if x.Pathway != "" && plan.Pathway != x.Pathway {
		t.Errorf("pathway = %s, want %s", plan.Pathway, x.Pathway)
	}
	if x.Band != "" && plan.Severity.Band != x.Band {
		t.Errorf("band = %s, want %s", plan.Severity.Band, x.Band)
	}
	for _, r := range x.Rules {
		if !rules[r] {
			t.Errorf("rule %s did not fire", r)
		}
	}
	for _, r := range x.NotRules {
		if rules[r] {
			t.Errorf("rule %s fired but must not", r)
		}
	}
	for _, w := range x.Warnings {
		if !warnings[w] {
			t.Errorf("warning %s missing", w)
		}
	}
	for _, w := range x.NotWarnings {
		if warnings[w] {
			t.Errorf("warning %s present but must not be", w)
		}
	}
	for _, f := range x.Findings {
		if !findings[f] {
			t.Errorf("finding %s missing", f)
		}
	}
	for target, action := range x.Actions {
		if !slices.Contains(actions[target], action) {
			t.Errorf("no %s %s (actions on it: %v)", action, target, actions[target])
		}
	}
	for _, target := range x.NoStart {
		for _, r := range recs {
			if (r.Target == target || r.Class == target) && (r.Action == ekbom.ActStart || r.Action == ekbom.ActConsider || r.Action == ekbom.ActIncrease) {
				t.Errorf("%s %s recommended (rule %s) but must not be", r.Action, r.Target, r.Rule)
			}
		}
	}
	for _, target := range x.Taking {
		found := false
		for _, a := range plan.Avoid {
			if a.Target == target && a.CurrentlyTaking {
				found = true
			}
		}
		if !found {
			t.Errorf("avoid list does not flag %s as currently taken", target)
		}
	}
	for _, m := range x.Missing {
		found := false
		for _, got := range plan.Missing {
			if strings.Contains(got, m) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing does not mention %q: %v", m, plan.Missing)
		}
	}
	conflicts := map[string]bool{}
	for _, c := range plan.Conflicts {
		conflicts[c.ID] = true
	}
	for _, c := range x.Conflicts {
		if !conflicts[c] {
			t.Errorf("conflict %s not shown", c)
		}
	}
	for target, ceiling := range x.MaxDailyMg {
		for _, r := range recs {
			if r.Target != target {
				continue
			}
			if r.Dose == nil && (r.Action == ekbom.ActStart || r.Action == ekbom.ActOptimize) {
				t.Errorf("%s %s has no dose to check against %v", r.Action, target, ceiling)
			}
			if r.Dose != nil && r.Dose.MaxDailyMg != nil && *r.Dose.MaxDailyMg > ceiling+1e-9 {
				t.Errorf("%s max %v > %v", target, *r.Dose.MaxDailyMg, ceiling)
			}
			if r.Dose != nil && r.Dose.DailyMg != nil && *r.Dose.DailyMg > ceiling+1e-9 {
				t.Errorf("%s daily dose %v > %v", target, *r.Dose.DailyMg, ceiling)
			}
			for _, s := range r.Schedule {
				if s.DailyMg > ceiling+1e-9 {
					t.Errorf("%s schedule %s reaches %v > %v", target, s.Date, s.DailyMg, ceiling)
				}
			}
		}
	}
}

// TestExamples runs every bundled example end to end.
func TestExamples(t *testing.T) {
	e := newEngine(t)
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) < 5 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			plan := evaluateFile(t, e, f)
			if len(plan.Steps) == 0 {
				t.Error("plan has no steps")
			}
			if os.Getenv("EKBOM_SHOW") != "" {
				t.Logf("%s", marshal(t, plan))
			}
		})
	}
}
