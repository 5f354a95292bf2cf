package intake

import (
	"math"
	"strconv"
	"strings"

	"ekbom"
)

// labSpec describes how one lab test is written and what is possible.
type labSpec struct {
	label     string             // how messages name the test
	canonical string             // the unit kb thresholds are written in
	accepted  string             // the units named in error messages
	units     map[string]float64 // normUnit(unit) -> factor to canonical
	max       float64            // values above max are impossible
	zeroBad   bool               // a value of 0 is impossible
}

// Conversion factors to the canonical unit. Molar masses: iron 55.85 g/mol
// (1 µmol/L = 5.585 µg/dL), creatinine 113.12 g/mol (88.42 µmol/L = 1 mg/dL),
// phosphorus 30.97 g/mol (1 mmol/L = 3.097 mg/dL).
var labSpecs = map[ekbom.LabTest]labSpec{
	ekbom.Ferritin: {label: "ferritin", canonical: "ng/mL", accepted: "ng/mL, µg/L",
		units: map[string]float64{"ng/ml": 1, "ug/l": 1}, max: 100000},
	ekbom.TSAT: {label: "TSAT", canonical: "%", accepted: "%",
		units: map[string]float64{"%": 1}, max: 100},
	ekbom.Iron: {label: "iron", canonical: "µg/dL", accepted: "µg/dL, µmol/L",
		units: map[string]float64{"ug/dl": 1, "umol/l": 5.585}, max: 1000},
	ekbom.TIBC: {label: "TIBC", canonical: "µg/dL", accepted: "µg/dL, µmol/L",
		units: map[string]float64{"ug/dl": 1, "umol/l": 5.585}, max: 1000, zeroBad: true},
	ekbom.Hemoglobin: {label: "hemoglobin", canonical: "g/dL", accepted: "g/dL, g/L",
		units: map[string]float64{"g/dl": 1, "g/l": 0.1}, max: 25},
	ekbom.Creatinine: {label: "creatinine", canonical: "mg/dL", accepted: "mg/dL, µmol/L",
		units: map[string]float64{"mg/dl": 1, "umol/l": 1 / 88.42}, max: 30, zeroBad: true},
	ekbom.EGFR: {label: "eGFR", canonical: "mL/min/1.73m2", accepted: "mL/min/1.73m2",
		units: map[string]float64{"ml/min/1.73m2": 1}, max: 200},
	ekbom.CRP: {label: "CRP", canonical: "mg/L", accepted: "mg/L, mg/dL",
		units: map[string]float64{"mg/l": 1, "mg/dl": 10}, max: 1000},
	ekbom.Phosphate: {label: "phosphate", canonical: "mg/dL", accepted: "mg/dL, mmol/L",
		units: map[string]float64{"mg/dl": 1, "mmol/l": 3.097}, max: 20},
}

// labTests lists the tests in the order messages name them.
var labTests = []ekbom.LabTest{ekbom.Ferritin, ekbom.TSAT, ekbom.Iron, ekbom.TIBC,
	ekbom.Hemoglobin, ekbom.Creatinine, ekbom.EGFR, ekbom.CRP, ekbom.Phosphate}

// unitReplacer folds the spellings of a unit into one key: case, the micro
// sign (µ U+00B5, μ U+03BC, "mc"), a superscript two, spaces and UCUM braces
// ("mL/min/{1.73_m2}").
var unitReplacer = strings.NewReplacer(
	"µ", "u", "μ", "u", "mcg", "ug", "mcmol", "umol", "²", "2",
	" ", "", "{", "", "}", "", "_", "", "\t", "",
)

func normUnit(u string) string {
	return unitReplacer.Replace(strings.ToLower(strings.TrimSpace(u)))
}

// convert returns value in the canonical unit of spec, or ok=false for a unit
// the test does not accept.
func (s labSpec) convert(value float64, unit string) (float64, bool) {
	f, ok := s.units[normUnit(unit)]
	if !ok {
		return 0, false
	}
	if f == 1 {
		return value, true
	}
	return round(value*f, 4), true
}

// round rounds x to n decimal places; it hides conversion drift such as
// 1.2 × 10 = 12.000000000000002.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e12 {
		return x
	}
	r := math.Round(x*p) / p
	if r == 0 {
		return 0 // no negative zero
	}
	return r
}

// fmtNum writes a number for a message: at most 4 decimals, no trailing
// zeros.
func fmtNum(x float64) string {
	return strconv.FormatFloat(round(x, 4), 'f', -1, 64)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// inRange reports lo ≤ x ≤ hi; it is false for NaN.
func inRange(x, lo, hi float64) bool { return x >= lo && x <= hi }
