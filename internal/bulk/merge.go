package bulk

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ekbom"
)

// MergeOptions configures Merge.
type MergeOptions struct {
	// ListLimit is how many patients of each care list, and problems of
	// each kind, the report shows (default 50), as Options.ListLimit.
	ListLimit int
}

// Merge puts together the output directories of the N shards of one export
// (Run with Options.Shard 0/N … N−1/N, given in any order) into outDir,
// which must not exist or be empty. It writes what one Run over the whole
// export writes:
//
//   - plans.ndjson, problems.ndjson and the care-list CSVs are the shards'
//     lines merged in plan order (patientHash of the patient id, then the
//     id), which is the order of each shard's files and of a run over the
//     whole export; problems of no patient, which only shard 0 has, come
//     first, as in such a run. Merge checks that every plan, care-list row
//     and problem is in its shard and in order, and that each shard's files
//     hold what its summary counts.
//   - summary.csv adds up the shards' counts (Summary.metrics says how
//     each row is combined) and report.html is made from it.
//
// It refuses, with an error matching ekbom.ErrInvalid that lists every
// reason, shards that do not fit together: a shard missing or given twice,
// different shard counts, as-of dates, engine or knowledge-base versions
// or inputs, a merged output given again, or a shard whose files do not
// agree with its summary (a run that did not finish). The files are
// written into a temporary directory beside outDir, renamed to outDir at
// the end: outDir is never left half-written.
func Merge(shardDirs []string, outDir string, opt MergeOptions) (*Summary, error) {
	if opt.ListLimit <= 0 {
		opt.ListLimit = 50
	}
	if len(shardDirs) == 0 {
		return nil, fmt.Errorf("%w: no shard directories to merge", ekbom.ErrInvalid)
	}
	if err := checkOutDir(outDir); err != nil {
		return nil, err
	}
	sums := make([]*Summary, len(shardDirs))
	for i, dir := range shardDirs {
		s, err := readSummaryFile(filepath.Join(dir, "summary.csv"))
		if err != nil {
			return nil, err
		}
		sums[i] = s
	}
	if problems := checkShards(shardDirs, sums); len(problems) > 0 {
		return nil, fmt.Errorf("%w: the shard outputs do not fit together:\n  %s", ekbom.ErrInvalid, strings.Join(problems, "\n  "))
	}
	shards := make([]shardOut, len(sums))
	for i, s := range sums {
		shards[i] = shardOut{dir: shardDirs[i], sum: s}
	}
	slices.SortFunc(shards, func(a, b shardOut) int { return a.sum.Shard.Index - b.sum.Shard.Index })

	out := filepath.Clean(outDir)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".merging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	m := mergeSummaries(sums)
	if err := mergePlans(tmp, shards); err != nil {
		return nil, err
	}
	if m.ProblemSamples, err = mergeProblems(tmp, shards, opt.ListLimit); err != nil {
		return nil, err
	}
	for _, l := range m.CareLists {
		if l.First, err = mergeCareList(tmp, shards, l.ID, l.File, opt.ListLimit); err != nil {
			return nil, err
		}
	}
	if err := writeReports(tmp, m); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := checkOutDir(out); err != nil { // again: it may have changed meanwhile
		return nil, err
	}
	os.Remove(out) // an empty directory, or nothing
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return m, nil
}

// shardOut is one shard's output directory and its summary.
type shardOut struct {
	dir string
	sum *Summary
}

// checkOutDir refuses an output directory that exists and is not empty.
func checkOutDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%w: -out %s: exists and is not a directory", ekbom.ErrInvalid, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: -out %s: exists and is not empty (merge writes a new directory; remove it or name another)", ekbom.ErrInvalid, dir)
	}
	return nil
}

// checkShards lists every reason why the shards' summaries do not make up
// one export: a merged output, different shard counts, a shard twice or
// missing, different as-of dates, versions or inputs.
func checkShards(dirs []string, sums []*Summary) []string {
	var problems []string
	for i, s := range sums {
		if s.Merged {
			problems = append(problems, fmt.Sprintf("%s is a merged output (shard_index all), not one shard", dirs[i]))
		}
	}
	problems = append(problems, differ(dirs, sums, "shard counts (shard_count)", func(s *Summary) string { return strconv.Itoa(s.Shard.Count) })...)
	problems = append(problems, differ(dirs, sums, "as-of dates (as_of)", func(s *Summary) string { return s.AsOf.String() })...)
	problems = append(problems, differ(dirs, sums, "engine versions (engine_version)", func(s *Summary) string { return s.EngineVersion })...)
	problems = append(problems, differ(dirs, sums, "knowledge-base versions (knowledge_version)", func(s *Summary) string { return s.KnowledgeVersion })...)
	problems = append(problems, differ(dirs, sums, "inputs (input_files, input.*, input_bytes, input_bytes_uncompressed, lines: each shard reads the whole export)", inputKey)...)
	if len(problems) > 0 {
		return problems
	}
	n := sums[0].Shard.Count
	seen := map[int]string{}
	for i, s := range sums {
		if prev, dup := seen[s.Shard.Index]; dup {
			problems = append(problems, fmt.Sprintf("shard %s given twice: %s and %s", s.Shard, prev, dirs[i]))
			continue
		}
		seen[s.Shard.Index] = dirs[i]
	}
	var missing []string
	for k := 0; k < n; k++ {
		if _, ok := seen[k]; !ok {
			missing = append(missing, Shard{k, n}.String())
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("shard%s %s missing: merge needs all %d shards", plural(len(missing)), strings.Join(missing, ", "), n))
	}
	return problems
}

// inputKey is what tells one export from another in a summary.
func inputKey(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files", len(s.Inputs))
	for i, name := range s.Inputs {
		fmt.Fprintf(&b, ", %s %d B", name, s.InputSizes[i])
	}
	fmt.Fprintf(&b, ", %d B, %d B uncompressed, %d lines", s.Bytes, s.DataBytes, s.Lines)
	return b.String()
}

// differ returns a problem when key is not the same for every summary,
// naming the directories of each value.
func differ(dirs []string, sums []*Summary, what string, key func(*Summary) string) []string {
	var values []string
	where := map[string][]string{}
	for i, s := range sums {
		k := key(s)
		if _, ok := where[k]; !ok {
			values = append(values, k)
		}
		where[k] = append(where[k], dirs[i])
	}
	if len(values) < 2 {
		return nil
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%q in %s", v, strings.Join(where[v], ", "))
	}
	return []string{"different " + what + ": " + strings.Join(parts, "; ")}
}

// mergeSummaries adds up the summaries of the shards of one export (already
// checked to fit together): the counts add up, the figures of the input
// are every shard's, workers and partitions add up, the times are the
// longest shard's and elapsed_seconds_total the sum. Problem samples and
// the care lists' first entries are left to the merge of the files.
func mergeSummaries(sums []*Summary) *Summary {
	f := sums[0]
	m := &Summary{AsOf: f.AsOf, EngineVersion: f.EngineVersion, KnowledgeVersion: f.KnowledgeVersion,
		Shard: Shard{0, f.Shard.Count}, Merged: true, Inputs: f.Inputs, InputSizes: f.InputSizes,
		Bytes: f.Bytes, DataBytes: f.DataBytes, Lines: f.Lines,
		ResourceTypes: map[string]int64{}, Problems: map[string]int64{}, Status: map[string]int64{}, Pathway: map[string]int64{},
		Band: map[string]int64{}, Warnings: map[string]int64{}, Findings: map[string]int64{}, Rules: map[string]int64{},
		Recommendations: map[string]int64{}}
	for _, l := range f.CareLists {
		c := *l
		c.Count, c.First = 0, nil
		m.CareLists = append(m.CareLists, &c)
	}
	for _, s := range sums {
		m.Resources += s.Resources
		m.Patients += s.Patients
		m.Planned += s.Planned
		m.Invalid += s.Invalid
		m.OutOfScope += s.OutOfScope
		m.Failed += s.Failed
		m.MissingPatient += s.MissingPatient
		for _, c := range []struct{ to, from map[string]int64 }{
			{m.ResourceTypes, s.ResourceTypes}, {m.Problems, s.Problems}, {m.Status, s.Status}, {m.Pathway, s.Pathway},
			{m.Band, s.Band}, {m.Warnings, s.Warnings}, {m.Findings, s.Findings}, {m.Rules, s.Rules},
			{m.Recommendations, s.Recommendations},
		} {
			for k, n := range c.from {
				c.to[k] += n
			}
		}
		for i, l := range s.CareLists {
			m.CareLists[i].Count += l.Count
		}
		m.Workers += s.Workers
		m.Partitions += s.Partitions
		m.Elapsed = max(m.Elapsed, s.Elapsed)
		m.ElapsedTotal += s.ElapsedTotal
		m.ReadTime = max(m.ReadTime, s.ReadTime)
		m.DedupeTime = max(m.DedupeTime, s.DedupeTime)
		m.PlanTime = max(m.PlanTime, s.PlanTime)
	}
	return m
}

// readSummaryFile reads a summary.csv written by Run or Merge.
func readSummaryFile(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (not an output directory of ekbom batch?)", ekbom.ErrInvalid, err)
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReader(f))
	cr.FieldsPerRecord = 2
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ekbom.ErrInvalid, path, err)
	}
	s, err := parseSummary(rows)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ekbom.ErrInvalid, path, err)
	}
	return s, nil
}

// parseSummary reads the rows of summary.csv (the header first) back into
// a Summary: every metric Summary.metrics writes, nothing else. Derived
// rates are recomputed, not read.
func parseSummary(rows [][]string) (*Summary, error) {
	if len(rows) == 0 || rows[0][0] != "metric" || rows[0][1] != "value" {
		return nil, errors.New(`no "metric,value" header`)
	}
	s := &Summary{ResourceTypes: map[string]int64{}, Problems: map[string]int64{}, Status: map[string]int64{}, Pathway: map[string]int64{},
		Band: map[string]int64{}, Warnings: map[string]int64{}, Findings: map[string]int64{}, Rules: map[string]int64{},
		Recommendations: map[string]int64{}}
	ints := map[string]*int64{
		"input_bytes": &s.Bytes, "input_bytes_uncompressed": &s.DataBytes, "lines": &s.Lines, "resources": &s.Resources,
		"patients": &s.Patients, "planned": &s.Planned, "invalid": &s.Invalid, "out_of_scope": &s.OutOfScope,
		"failed": &s.Failed, "missing_patient": &s.MissingPatient,
	}
	smallInts := map[string]*int{"shard_count": &s.Shard.Count, "workers": &s.Workers, "partitions": &s.Partitions}
	durations := map[string]*time.Duration{
		"elapsed_seconds": &s.Elapsed, "elapsed_seconds_total": &s.ElapsedTotal, "read_seconds": &s.ReadTime,
		"dedupe_seconds": &s.DedupeTime, "plan_seconds": &s.PlanTime,
	}
	maps := map[string]map[string]int64{
		"resources": s.ResourceTypes, "problem": s.Problems, "status": s.Status, "pathway": s.Pathway, "band": s.Band,
		"warning": s.Warnings, "finding": s.Findings, "rule": s.Rules, "recommendation": s.Recommendations,
	}
	seen := map[string]bool{}
	var problemTotal int64
	inputFiles := -1
	for _, row := range rows[1:] {
		name, v := row[0], row[1]
		if seen[name] {
			return nil, fmt.Errorf("metric %s: given twice", name)
		}
		seen[name] = true
		prefix, key, dotted := strings.Cut(name, ".")
		var err error
		switch {
		case name == "as_of":
			s.AsOf, err = ekbom.ParseDate(v)
		case name == "engine_version":
			s.EngineVersion = v
		case name == "knowledge_version":
			s.KnowledgeVersion = v
		case name == "shard_index" && v == "all":
			s.Merged = true
		case name == "shard_index":
			s.Shard.Index, err = strconv.Atoi(v)
		case name == "input_files":
			inputFiles, err = strconv.Atoi(v)
		case name == "problems":
			problemTotal, err = strconv.ParseInt(v, 10, 64)
		case name == "patients_per_second" || name == "mb_per_second": // derived
		case ints[name] != nil:
			*ints[name], err = strconv.ParseInt(v, 10, 64)
		case smallInts[name] != nil:
			*smallInts[name], err = strconv.Atoi(v)
		case durations[name] != nil:
			var f float64
			f, err = strconv.ParseFloat(v, 64)
			*durations[name] = time.Duration(math.Round(f*1000)) * time.Millisecond
		case dotted && prefix == "input":
			var size int64
			size, err = strconv.ParseInt(v, 10, 64)
			s.Inputs = append(s.Inputs, key)
			s.InputSizes = append(s.InputSizes, size)
		case dotted && prefix == "care_list":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			l, ok := careListOf(key)
			if !ok {
				return nil, fmt.Errorf("metric %s: a care list this ekbom does not know", name)
			}
			l.Count = n
			s.CareLists = append(s.CareLists, l)
		case dotted && maps[prefix] != nil:
			maps[prefix][key], err = strconv.ParseInt(v, 10, 64)
		default:
			return nil, fmt.Errorf("metric %s: unknown (made by another version of ekbom?)", name)
		}
		if err != nil {
			return nil, fmt.Errorf("metric %s: %v", name, err)
		}
	}
	for _, name := range []string{"as_of", "engine_version", "knowledge_version", "shard_index", "shard_count", "input_files",
		"input_bytes", "input_bytes_uncompressed", "lines", "resources", "patients", "planned", "invalid", "out_of_scope",
		"failed", "missing_patient", "problems", "workers", "partitions", "elapsed_seconds", "elapsed_seconds_total",
		"read_seconds", "dedupe_seconds", "plan_seconds"} {
		if !seen[name] {
			return nil, fmt.Errorf("no %s row (made by an older ekbom, before -shard?)", name)
		}
	}
	var sum int64
	for _, n := range s.Problems {
		sum += n
	}
	switch {
	case inputFiles != len(s.Inputs):
		return nil, fmt.Errorf("input_files %d, but %d input.* rows", inputFiles, len(s.Inputs))
	case problemTotal != sum:
		return nil, fmt.Errorf("problems %d, but the problem.* rows add up to %d", problemTotal, sum)
	case len(s.CareLists) != len(careDefs):
		return nil, fmt.Errorf("%d care_list.* rows, want %d", len(s.CareLists), len(careDefs))
	}
	if !s.Merged {
		if _, err := s.Shard.normalize(); err != nil || s.Shard.Count < 1 {
			return nil, fmt.Errorf("shard %s: not a shard (0 ≤ shard_index < shard_count)", s.Shard)
		}
	}
	slices.SortFunc(s.CareLists, func(a, b *CareList) int { return careIndex(a.ID) - careIndex(b.ID) })
	return s, nil
}

// careListOf returns an empty care list of the definition with the id.
func careListOf(id string) (*CareList, bool) {
	i := careIndex(id)
	if i < 0 {
		return nil, false
	}
	d := careDefs[i]
	return &CareList{ID: d.id, Title: d.title, Description: d.description, File: "care-" + d.id + ".csv"}, true
}

func careIndex(id string) int {
	for i, d := range careDefs {
		if d.id == id {
			return i
		}
	}
	return -1
}
