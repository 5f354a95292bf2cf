package bulk

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"ekbom"
)

// Disclaimer is printed at the top and bottom of the report.
const Disclaimer = "ekbom supports clinical judgement; it is not a medical device. These counts and lists help a care team find the patients to review first; check every plan against the patient and the sources."

//go:embed report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": func(n int64) string { return groupDigits(n) },
}).Parse(reportHTML))

// writeReports writes summary.csv and report.html.
func (r *run) writeReports() error { return writeReports(r.out, r.sum) }

// writeReports writes summary.csv and report.html of s into dir.
func writeReports(dir string, s *Summary) error {
	if err := writeSummaryCSV(dir, s); err != nil {
		return err
	}
	return writeHTML(dir, s)
}

// metrics returns the summary as metric/value rows, the content of
// summary.csv (parseSummary reads them back). The rows are in three groups:
//
//   - what identifies the run and must be the same in every shard of one
//     export: as_of, engine_version, knowledge_version, shard_count, and
//     the input (input_files, input.NAME with its size as stored,
//     input_bytes, input_bytes_uncompressed, lines), which every shard
//     reads whole; shard_index is the shard ("all" once merged);
//   - counts, which add up over shards: resources…, patients … care_list.*;
//   - the figures of the run itself: workers and partitions (summed over
//     shards), elapsed_seconds and the phases (the longest shard's),
//     elapsed_seconds_total (summed), and the rates derived from
//     elapsed_seconds.
func (s *Summary) metrics() [][2]string {
	shardIndex := strconv.Itoa(s.Shard.Index)
	if s.Merged {
		shardIndex = "all"
	}
	rows := [][2]string{
		{"as_of", s.AsOf.String()},
		{"engine_version", s.EngineVersion},
		{"knowledge_version", s.KnowledgeVersion},
		{"shard_index", shardIndex},
		{"shard_count", strconv.Itoa(s.Shard.Count)},
		{"input_files", strconv.Itoa(len(s.Inputs))},
	}
	for i, name := range s.Inputs {
		var size int64
		if i < len(s.InputSizes) {
			size = s.InputSizes[i]
		}
		rows = append(rows, [2]string{"input." + name, i64(size)})
	}
	rows = append(rows, [][2]string{
		{"input_bytes", i64(s.Bytes)},
		{"input_bytes_uncompressed", i64(s.DataBytes)},
		{"lines", i64(s.Lines)},
		{"resources", i64(s.Resources)},
	}...)
	add := func(prefix string, m map[string]int64) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, [2]string{prefix + k, i64(m[k])})
		}
	}
	add("resources.", s.ResourceTypes)
	rows = append(rows,
		[2]string{"patients", i64(s.Patients)},
		[2]string{"planned", i64(s.Planned)},
		[2]string{"invalid", i64(s.Invalid)},
		[2]string{"out_of_scope", i64(s.OutOfScope)},
		[2]string{"failed", i64(s.Failed)},
		[2]string{"missing_patient", i64(s.MissingPatient)},
	)
	var total int64
	for _, n := range s.Problems {
		total += n
	}
	rows = append(rows, [2]string{"problems", i64(total)})
	add("problem.", s.Problems)
	add("status.", s.Status)
	add("pathway.", s.Pathway)
	add("band.", s.Band)
	add("warning.", s.Warnings)
	add("finding.", s.Findings)
	add("rule.", s.Rules)
	add("recommendation.", s.Recommendations)
	for _, l := range s.CareLists {
		rows = append(rows, [2]string{"care_list." + l.ID, i64(l.Count)})
	}
	rows = append(rows,
		[2]string{"workers", strconv.Itoa(s.Workers)},
		[2]string{"partitions", strconv.Itoa(s.Partitions)},
		[2]string{"elapsed_seconds", seconds(s.Elapsed)},
		[2]string{"elapsed_seconds_total", seconds(s.ElapsedTotal)},
		[2]string{"read_seconds", seconds(s.ReadTime)},
		[2]string{"dedupe_seconds", seconds(s.DedupeTime)},
		[2]string{"plan_seconds", seconds(s.PlanTime)},
		[2]string{"patients_per_second", strconv.FormatFloat(s.Rate(), 'f', 0, 64)},
		[2]string{"mb_per_second", strconv.FormatFloat(float64(s.DataBytes)/1e6/max(s.Elapsed.Seconds(), 1e-9), 'f', 1, 64)},
	)
	return rows
}

// Rate returns the patients handled per second.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Patients) / s.Elapsed.Seconds()
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func writeSummaryCSV(dir string, s *Summary) error {
	f, err := os.Create(filepath.Join(dir, "summary.csv"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"metric", "value"})
	for _, row := range s.metrics() {
		w.Write(row[:])
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

// chart is a horizontal bar chart drawn as inline SVG.
type chart struct {
	Title  string
	Note   string
	Height int
	Bars   []bar
}

type bar struct {
	Label  string
	Full   string // the label when Label is shortened
	Count  int64
	Pct    string
	Y, W   int
	TextY  int
	CountX int
}

const (
	chartLabelW = 300 // label column, px
	chartBarW   = 360 // longest bar, px
	chartRowH   = 22
)

// newChart draws the counts of m, most first (or in the given order, then
// the others), at most limit bars; pct is taken of total.
func newChart(title, note string, m map[string]int64, total int64, limit int, order ...string) chart {
	c := chart{Title: title, Note: note}
	var keys []string
	for _, k := range order {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range sortedCounts(m) {
		if !contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	var top int64
	for _, k := range keys {
		top = max(top, m[k])
	}
	for i, k := range keys {
		n := m[k]
		w := 0
		if top > 0 {
			w = int(float64(n) / float64(top) * chartBarW)
		}
		if n > 0 && w < 2 {
			w = 2
		}
		pct := ""
		if total > 0 {
			pct = strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + " %"
		}
		label := k
		if r := []rune(k); len(r) > 46 {
			label = string(r[:45]) + "…"
		}
		c.Bars = append(c.Bars, bar{Label: label, Full: k, Count: n, Pct: pct, Y: i*chartRowH + 4, W: w, TextY: i*chartRowH + 17, CountX: chartLabelW + 8 + w + 6})
	}
	c.Height = len(c.Bars)*chartRowH + 8
	return c
}

type problemSection struct {
	Kind    string
	Text    string
	Count   int64
	Samples []Problem
	More    int64
}

type careSection struct {
	*CareList
	More int64
}

// fileIndex returns the place of an input in s.Inputs (len(s.Inputs) when
// it is not one), to sort problems by their place in the input.
func (s *Summary) fileIndex(name string) int {
	for i, in := range s.Inputs {
		if in == name {
			return i
		}
	}
	return len(s.Inputs)
}

func writeHTML(dir string, s *Summary) error {
	var problems []problemSection
	var problemTotal int64
	for _, k := range sortedCounts(s.Problems) {
		n := s.Problems[k]
		problemTotal += n
		samples := append([]Problem(nil), s.ProblemSamples[k]...)
		sort.SliceStable(samples, func(i, j int) bool { // by place in the input
			a, b := samples[i], samples[j]
			if fa, fb := s.fileIndex(a.File), s.fileIndex(b.File); fa != fb {
				return fa < fb
			}
			return a.Line < b.Line
		})
		problems = append(problems, problemSection{Kind: k, Text: kindText[k], Count: n, Samples: samples, More: n - int64(len(samples))})
	}
	var care []careSection
	for _, l := range s.CareLists {
		care = append(care, careSection{CareList: l, More: l.Count - int64(len(l.First))})
	}
	careCounts := map[string]int64{}
	for _, l := range s.CareLists {
		careCounts[l.Title] = l.Count
	}
	charts := []chart{
		newChart("Status", "Patients by whether their RLS meets the definition of refractory.", s.Status, s.Planned, 0,
			string(ekbom.Refractory), string(ekbom.NotYetRefractory), string(ekbom.Undetermined)),
		newChart("Pathway", "", s.Pathway, s.Planned, 0, "standard", "pregnancy", "esrd"),
		newChart("Severity (IRLS band)", "", s.Band, s.Planned, 0, "none", "mild", "moderate", "severe", "very_severe", "unknown"),
		newChart("Care lists", "Patients on each list.", careCounts, s.Planned, 0),
		newChart("Warnings", "Patients with each safety warning.", s.Warnings, s.Planned, 0),
		newChart("Findings", "Patients with each finding.", s.Findings, s.Planned, 0),
		newChart("Recommendations", "Patients with each recommendation (action and target), the 30 commonest.", s.Recommendations, s.Planned, 30),
	}
	if len(s.Problems) > 0 {
		charts = append(charts, newChart("Problems", "Problems found in the export, by kind.", s.Problems, 0, 0))
	}
	data := map[string]any{
		"S":            s,
		"Disclaimer":   Disclaimer,
		"Generated":    time.Now().UTC().Format("2006-01-02 15:04 MST"),
		"Elapsed":      s.Elapsed.Round(time.Millisecond).String(),
		"Rate":         groupDigits(int64(s.Rate())),
		"Charts":       charts,
		"Care":         care,
		"Problems":     problems,
		"ProblemTotal": problemTotal,
		"Rules":        sortedCounts(s.Rules),
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// groupDigits writes n with thin spaces between thousands: 1 234 567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, "\u202f"...)
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
