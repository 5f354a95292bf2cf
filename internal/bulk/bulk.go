// Package bulk is ekbom's population mode: it plans every patient of a FHIR
// R4 Bulk Data export ($export NDJSON: Patient.ndjson, Observation.ndjson,
// …, possibly gzipped, or one mixed stream) and summarises the population
// for a care team.
//
// # How it works
//
// An export is grouped per patient without holding it in memory, by a
// hash-partition spill in two passes:
//
//  1. Pass 1 streams every input line by line (one reader; the workers
//     scan chunks of lines in parallel). For each line it reads only the
//     resourceType, id and patient reference (Patient.id, else
//     subject.reference or patient.reference), and appends the raw line to
//     one of P temporary partition files chosen by the hash of the
//     patient id (patientHash) (the top bits: partition i holds one hash range). P is a
//     power of two sized so that a partition is about
//     Options.PartitionBytes. Shared Medication resources (referenced by
//     medicationReference) are kept in memory up to a limit. Every
//     resource's type and id also goes, as a 32-byte record, to a small id
//     partition file.
//  2. A dedupe step sorts each id partition to find a type and id seen
//     twice, and tells pass 2 which repeats to leave out (the first in input
//     order is kept).
//  3. Pass 2 loads one partition at a time (a partition larger than twice
//     the target is split again by the next hash bits first), sorts its
//     lines by (hash, patient id, Patient first, input order), and hands
//     each patient to GOMAXPROCS workers. A worker builds a collection
//     Bundle of the patient's lines (plus the Medications they reference)
//     and runs exactly what `ekbom assess` runs on a Bundle: fhir.ReadBundle,
//     intake.Normalize, engine.Evaluate, then the reader's notes appended to
//     the plan's missing list. One goroutine writes the results in order.
//
// Memory is bounded by the partition size times a small factor (one
// partition being dispatched, the tail of the previous one in the workers,
// and a bounded window of finished plans), the shared Medications, and the
// per-kind counts of the summary; it does not grow with the number of
// patients. Disk use is about the size of the export, uncompressed.
//
// A sort/spill by patient id (an external merge sort) would give plans in
// patient-id order but sorts everything; an embedded index (SQLite) would
// allow random access but writes every resource through a B-tree. The hash
// partitions need one sequential write and one sequential read of the
// data, and give a stable order: plans come sorted by (patientHash of the
// patient id, patient id), whatever the number of partitions, workers or
// input files. The same lines in the same order give the same bytes; the
// same resources in another order (a directory or a mixed stream) give the
// same plans in the same order, except that the reader's notes in
// "missing" follow the order of the patient's lines.
//
// # Problems
//
// Nothing in the input is fatal: bad lines, resources without a patient,
// duplicate ids, truncated gzip streams, patients whose Patient resource is
// missing and patients the reader or intake rejects are each reported as a
// Problem with the file and line, written to problems.ndjson and counted in
// the summary. problems.ndjson lists the problems of pass 1 (lines and
// files) in input order, then repeated shared Medications, then the
// problems of each patient in plan order. Only errors writing the output or
// the temporary files stop a run.
//
// The partitions are sized from the input's size (for gzip, from the size
// in the gzip trailer); for a stream of unknown size there are 256, and a
// partition that turns out more than twice the target is split by the next
// hash bits before it is loaded, so memory stays bounded either way.
//
// # Shards
//
// An export too big for one machine is planned in N shards (Options.Shard,
// `ekbom batch -shard i/N`): every shard reads the whole export, but files
// and plans only the patients whose id falls in its share of the hash
// space (ShardOf), so every patient is planned by exactly one shard. Shared
// Medications are kept by every shard; repeats are found over the whole
// export (the id records of pass 1 cover every line, 32 bytes each); what
// belongs to no patient is counted and reported by shard 0 only. Merge
// puts the shards' directories together into the output of one run over
// the whole export: the same plans, problems and care lists in the same
// order and bytes, the counts added up. Pass 1 (reading, gunzip and the
// header scan) is not divided between the shards; pass 2 is.
//
// # Output
//
// Run writes into a directory: plans.ndjson (one plan per line: the
// contract's plan shape with a "patient" field, the patient reference,
// first), problems.ndjson, summary.csv (metric,value; Summary.metrics says
// what each row is), one CSV per care list (care-<id>.csv) and report.html
// (self-contained, inline SVG charts).
package bulk

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/kb"
)

// Options configures Run. Only AsOf is required.
type Options struct {
	// AsOf is the date the plans are made for (fhir.Options.AsOf).
	AsOf ekbom.Date
	// Workers is the number of goroutines planning patients; 0 means
	// GOMAXPROCS.
	Workers int
	// TempDir is where the partition files go; "" means os.TempDir(). It
	// needs about the uncompressed size of the export.
	TempDir string
	// KB is the knowledge base; nil means kb.Default().
	KB *kb.Base
	// PartitionBytes is the target size of a partition file (default
	// 16 MiB). Memory use is a small multiple of it.
	PartitionBytes int64
	// MaxLineBytes is the longest line read (default 16 MiB); longer lines
	// are reported and skipped.
	MaxLineBytes int
	// MaxSharedBytes caps the shared Medication resources held in memory
	// (default 64 MiB).
	MaxSharedBytes int64
	// Progress, when set, is called about every ProgressEvery (default 1 s)
	// from another goroutine, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// ListLimit is how many patients of each care list, and how many
	// problems of each kind, the HTML report shows (default 50); the CSV
	// files and problems.ndjson have them all.
	ListLimit int
	// Ignored lists input files that were not read (DirInputs); they are
	// named in the report.
	Ignored []string
	// Shard makes the run plan only the patients of one shard of the
	// export (see Shard); the zero value plans them all.
	Shard Shard
}

// Progress is a snapshot of a run.
type Progress struct {
	// Phase is "read" (pass 1), "dedupe", "plan" (pass 2) or "done".
	Phase string
	// Bytes is the input read so far as stored (compressed for gzip) out
	// of TotalBytes (0 when unknown, e.g. stdin).
	Bytes, TotalBytes int64
	Lines             int64
	// Patients is the number of patients planned (or rejected) so far, out
	// of about TotalPatients (the Patient lines read).
	Patients, TotalPatients int64
	Elapsed                 time.Duration
}

// Summary counts a run. Maps count patients (each patient once per key).
type Summary struct {
	AsOf             ekbom.Date
	EngineVersion    string
	KnowledgeVersion string
	// Shard is the shard of the export the run covered ({0 1} for the
	// whole export). Merged marks the summary Merge makes of all
	// Shard.Count shards (Shard.Index is then 0).
	Shard  Shard
	Merged bool
	Inputs []string
	// InputSizes are the sizes of Inputs as stored, in bytes (0 when
	// unknown, e.g. stdin).
	InputSizes    []int64
	Ignored       []string
	Bytes         int64 // input as stored (compressed for gzip)
	DataBytes     int64 // input uncompressed: the NDJSON lines
	Lines         int64
	Resources     int64            // resources filed under a patient of the shard, or shared (shard 0)
	ResourceTypes map[string]int64 // by resourceType
	// Patients is the number of patients with a Patient resource; each is
	// Planned, Invalid, OutOfScope or Failed.
	Patients, Planned, Invalid, OutOfScope, Failed int64
	// MissingPatient counts the groups of resources whose Patient resource
	// is not in the export.
	MissingPatient  int64
	Problems        map[string]int64 // by kind
	ProblemSamples  map[string][]Problem
	Status          map[string]int64
	Pathway         map[string]int64
	Band            map[string]int64
	Warnings        map[string]int64 // by warning code
	Findings        map[string]int64 // by finding code
	Rules           map[string]int64 // recommendations by rule id
	Recommendations map[string]int64 // recommendations by "action target"
	CareLists       []*CareList
	Workers         int
	Partitions      int
	Elapsed         time.Duration
	// ElapsedTotal is the sum of the shards' Elapsed in a merged summary
	// (the machine time spent); Elapsed itself for one run.
	ElapsedTotal time.Duration
	// ReadTime, DedupeTime and PlanTime are the times of pass 1, the
	// dedupe step and pass 2.
	ReadTime, DedupeTime, PlanTime time.Duration
}

// run is the state of one Run.
type run struct {
	ctx    context.Context
	cancel context.CancelFunc
	opt    Options
	b      *kb.Base
	e      *engine.Engine
	tmp    string
	out    string
	inputs []Input

	bits  uint // log2 of the number of partitions
	parts []*spill
	ids   []*spill
	skips []*spill
	idh   idHasher

	sharedMu    sync.Mutex
	shared      map[string]*sharedMed
	sharedBytes int64
	// Shared Medications are kept, up to Options.MaxSharedBytes, as the
	// longest prefix of the input (file, then line) that fits, whatever
	// order the pass-1 workers reach them in, so that every run and every
	// shard keeps the same ones. sharedCut is the first line not kept
	// (sharedCutSet: there is one); sharedOut are the lines left out,
	// reported after pass 1.
	sharedCut    loc
	sharedCutSet bool
	sharedOut    []sharedLine

	problems        *problemSink
	sum             *Summary
	care            []*careSink
	ferritinMaxDays int

	shard          Shard // Count ≥ 1
	exportPatients int64 // Patient lines in the whole export (every shard)

	phase                     atomic.Value // string
	bytesIn, lines            atomic.Int64
	patientsDone, patientsAll atomic.Int64 // of this shard
	start                     time.Time
}

// Run plans every patient of the inputs and writes the results into the
// directory outDir (created if needed). It returns the summary, also
// written as summary.csv and report.html. Problems in the input are
// reported, never returned; the error is for output, temporary-file and
// setup failures, or ctx's cancellation.
func Run(ctx context.Context, inputs []Input, outDir string, opt Options) (*Summary, error) {
	if opt.AsOf.IsZero() {
		return nil, errors.New("bulk: Options.AsOf is required")
	}
	shard, err := opt.Shard.normalize()
	if err != nil {
		return nil, fmt.Errorf("bulk: Options.Shard: %w", err)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.PartitionBytes <= 0 {
		opt.PartitionBytes = 16 << 20
	}
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = 16 << 20
	}
	if opt.MaxSharedBytes <= 0 {
		opt.MaxSharedBytes = 64 << 20
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	if opt.ListLimit <= 0 {
		opt.ListLimit = 50
	}
	b := opt.KB
	if b == nil {
		var err error
		if b, err = kb.Default(); err != nil {
			return nil, err
		}
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(opt.TempDir, "ekbom-batch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{ctx: ctx, cancel: cancel, opt: opt, b: b, e: e, tmp: tmp, out: outDir, inputs: inputs,
		shared: map[string]*sharedMed{}, idh: newIDHasher(), shard: shard, start: time.Now()}
	r.phase.Store("read")
	r.sum = &Summary{AsOf: opt.AsOf, EngineVersion: ekbom.EngineVersion, KnowledgeVersion: b.Meta.Version, Shard: shard,
		Ignored: opt.Ignored, ResourceTypes: map[string]int64{}, Status: map[string]int64{}, Pathway: map[string]int64{},
		Band: map[string]int64{}, Warnings: map[string]int64{}, Findings: map[string]int64{}, Rules: map[string]int64{},
		Recommendations: map[string]int64{}, Workers: opt.Workers}
	for _, in := range inputs {
		r.sum.Inputs = append(r.sum.Inputs, in.Name)
		r.sum.InputSizes = append(r.sum.InputSizes, in.Size)
	}

	pf, err := os.Create(filepath.Join(outDir, "problems.ndjson"))
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	r.problems = newProblemSink(pf, opt.ListLimit)
	if err := r.openCareLists(); err != nil {
		return nil, err
	}
	defer r.closeCareLists()

	stopProgress := r.reportProgress()
	err = r.all()
	stopProgress()
	if err != nil {
		return nil, err
	}
	if err := r.problems.flush(); err != nil {
		return nil, err
	}
	if err := pf.Close(); err != nil {
		return nil, err
	}
	if err := r.closeCareLists(); err != nil {
		return nil, err
	}
	r.sum.Problems = r.problems.counts
	r.sum.ProblemSamples = r.problems.samples
	r.sum.Elapsed = time.Since(r.start)
	r.sum.ElapsedTotal = r.sum.Elapsed
	if err := r.writeReports(); err != nil {
		return nil, err
	}
	return r.sum, nil
}

func (r *run) all() error {
	r.partition()
	if err := r.pass1(); err != nil {
		return err
	}
	for _, s := range append(append([]*spill{}, r.parts...), r.ids...) {
		if err := s.close(); err != nil {
			return err
		}
	}
	r.reportShared()
	if r.exportPatients == 0 && r.ownsUnfiled() {
		r.problems.add(Problem{Kind: KindNoPatients, Message: "the export holds no Patient resource: no plan can be made (is Patient.ndjson missing?)"})
	}
	r.sum.ReadTime = time.Since(r.start)
	r.phase.Store("dedupe")
	if err := r.dedupe(); err != nil {
		return err
	}
	r.sum.DedupeTime = time.Since(r.start) - r.sum.ReadTime
	r.phase.Store("plan")
	if err := r.pass2(); err != nil {
		return err
	}
	r.sum.PlanTime = time.Since(r.start) - r.sum.ReadTime - r.sum.DedupeTime
	r.phase.Store("done")
	return nil
}

// partition chooses the number of partitions from the expected size of the
// input: a power of two, so that partition i is the i-th hash range. A
// shard files about 1/Count of the export, in as many fewer partitions;
// the id records cover the whole export in every shard, so their number
// of partitions is that of a run over the whole export.
func (r *run) partition() {
	est := estimate(r.inputs)
	whole := int64(256) // unknown size (a stream): partitions that are too big are split in pass 2
	if est > 0 {
		whole = max(1, (est+r.opt.PartitionBytes-1)/r.opt.PartitionBytes)
	}
	whole = min(whole, 1024)
	n := (whole + int64(r.shard.Count) - 1) / int64(r.shard.Count)
	r.bits = uint(bits.Len64(uint64(n - 1))) // 2^bits ≥ n
	p := 1 << r.bits
	r.parts = make([]*spill, p)
	for i := range r.parts {
		r.parts[i] = &spill{path: filepath.Join(r.tmp, fmt.Sprintf("part-%04d", i))}
	}
	q := max(1, 1<<bits.Len64(uint64(whole-1))/16)
	r.ids = make([]*spill, q)
	for i := range r.ids {
		r.ids[i] = &spill{path: filepath.Join(r.tmp, fmt.Sprintf("ids-%04d", i))}
	}
	r.sum.Partitions = p
}

// partOf returns the partition of a patient-id hash.
func (r *run) partOf(h uint64) int { return int(h >> (64 - r.bits) & (1<<r.bits - 1)) }

// reportProgress calls opt.Progress every opt.ProgressEvery until the
// returned function is called (which reports once more).
func (r *run) reportProgress() func() {
	if r.opt.Progress == nil {
		return func() {}
	}
	var total int64
	for _, in := range r.inputs {
		total += in.Size
	}
	snap := func() Progress {
		return Progress{Phase: r.phase.Load().(string), Bytes: r.bytesIn.Load(), TotalBytes: total, Lines: r.lines.Load(),
			Patients: r.patientsDone.Load(), TotalPatients: r.patientsAll.Load(), Elapsed: time.Since(r.start)}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(r.opt.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.opt.Progress(snap())
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		r.opt.Progress(snap())
	}
}

// ---- pass 1

// sharedMed is a shared Medication resource: the first in input order is
// kept; later ones with the same id are repeats.
// sharedLine is a shared Medication line left out by the size limit.
type sharedLine struct {
	key string
	at  loc
}

type sharedMed struct {
	raw   []byte
	at    loc
	dups  []loc
	valid bool
}

// chunkResult is what a pass-1 worker found in one chunk.
type chunkResult struct {
	seq      int
	lines    int64
	bytes    int64 // uncompressed, newlines included
	types    map[string]int64
	patients int64 // Patient lines of this shard
	// exportPatients counts the Patient lines of every shard.
	exportPatients int64
	problems       []Problem
	err            error
}

func (r *run) pass1() error {
	w := r.opt.Workers
	chunks := make(chan *chunk, w)
	results := make(chan *chunkResult, 2*w+4)
	window := make(chan struct{}, 2*w+4) // chunks read but not yet collected
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for c := range chunks {
				results <- r.scanChunk(c, &buf)
			}
		}()
	}
	// The reader: inputs one after the other, so the problems of pass 1
	// come out in input order.
	go func() {
		defer close(chunks)
		seq := 0
		for file, in := range r.inputs {
			seq = readInput(in, file, seq, r.opt.MaxLineBytes, 2<<20, &r.bytesIn, func(c *chunk) bool {
				select {
				case window <- struct{}{}:
				case <-r.ctx.Done():
					return false
				}
				chunks <- c
				return true
			})
			if r.ctx.Err() != nil {
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	pending := map[int]*chunkResult{}
	next := 0
	var err error
	for res := range results {
		pending[res.seq] = res
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			if c.err != nil && err == nil {
				err = c.err
				r.cancel()
			}
			r.sum.Lines += c.lines
			r.sum.DataBytes += c.bytes
			r.lines.Add(c.lines)
			for t, n := range c.types {
				r.sum.ResourceTypes[t] += n
				r.sum.Resources += n
			}
			r.patientsAll.Add(c.patients)
			r.exportPatients += c.exportPatients
			if r.ownsUnfiled() { // the problems of lines and files: no patient's
				for _, p := range c.problems {
					r.problems.add(p)
				}
			}
			next++
			<-window
		}
	}
	r.sum.Bytes = r.bytesIn.Load()
	if err == nil {
		err = r.ctx.Err()
	}
	return err
}

// scanChunk files each line of c under its patient.
func (r *run) scanChunk(c *chunk, buf *[]byte) *chunkResult {
	res := &chunkResult{seq: c.seq, lines: int64(len(c.lines)), bytes: int64(len(c.data) + len(c.lines)), types: map[string]int64{}}
	name := r.inputs[c.file].Name
	for _, l := range c.lines {
		if l.tooLong {
			res.problems = append(res.problems, Problem{Kind: KindLineTooLong, File: name, Line: l.no,
				Message: fmt.Sprintf("longer than %d bytes: not read", r.opt.MaxLineBytes)})
			continue
		}
		line := c.data[l.start:l.end]
		if isBlank(line) {
			continue
		}
		if p := r.scanLine(c.file, l.no, line, res, buf); p != nil {
			p.File, p.Line = name, l.no
			res.problems = append(res.problems, *p)
		}
		if res.err != nil {
			break
		}
	}
	if c.problem != nil { // the input ended early or could not be opened
		res.problems = append(res.problems, *c.problem)
	}
	return res
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// sharedTypes are resource types that are never about one patient; without
// a patient reference they are counted, not reported.
var sharedTypes = map[string]bool{
	"Practitioner": true, "PractitionerRole": true, "Organization": true, "Location": true, "Group": true,
	"Endpoint": true, "HealthcareService": true, "Substance": true, "Questionnaire": true, "ValueSet": true,
	"CodeSystem": true, "Device": true, "Binary": true, "OperationOutcome": true,
}

// scanLine files one line; it returns a problem for a line it cannot file.
// A line about a patient of another shard is not filed, but its type and id
// still go to the id partitions, so that a repeat is found whichever shards
// the two copies fall in. Resources that belong to no patient (shared
// Medications, Practitioners, …) are counted by shard 0 only.
func (r *run) scanLine(file int, no int64, line []byte, res *chunkResult, buf *[]byte) *Problem {
	h, err := scanHeader(line)
	if err != nil {
		msg := "not valid JSON: " + trimJSONError(err)
		if errors.Is(err, errNotObject) {
			msg = err.Error()
		}
		return &Problem{Kind: KindBadJSON, Message: msg}
	}
	switch {
	case h.typ == "":
		msg := "a JSON object without resourceType: not read"
		if h.id != "" {
			msg = fmt.Sprintf("a JSON object without resourceType (id %q): not read", truncate(h.id, 64))
		}
		return &Problem{Kind: KindNoResourceType, Message: msg}
	case h.typ == "Patient" || h.typ == "Medication":
		if h.id == "" {
			return &Problem{Kind: KindNoID, Resource: h.typ, Message: fmt.Sprintf("a %s without id cannot be linked to anything: not read", h.typ)}
		}
	}
	if h.typ == "Medication" {
		if r.ownsUnfiled() {
			res.types[h.typ]++
		}
		return r.addShared(file, no, h.id, line)
	}
	pid := h.id
	if h.typ != "Patient" {
		id, ok := patientOf(h.ref)
		switch {
		case h.ref == "" && sharedTypes[h.typ]:
			if r.ownsUnfiled() {
				res.types[h.typ]++
			}
			return nil
		case h.ref == "":
			return &Problem{Kind: KindNoPatient, Resource: nameOrType(h), Message: "no subject or patient reference: not read"}
		case !ok:
			return &Problem{Kind: KindNoPatient, Resource: nameOrType(h), Message: fmt.Sprintf("subject %q is not a Patient reference: not read", truncate(h.ref, 80))}
		}
		pid = id
	} else {
		res.exportPatients++
	}
	hash := patientHash([]byte(pid))
	part := uint32(otherShard)
	if r.inShard(hash) {
		res.types[h.typ]++
		if h.typ == "Patient" {
			res.patients++
		}
		p := r.partOf(hash)
		part = uint32(p)
		*buf = appendRecord((*buf)[:0], file, no, h.typ == "Patient", pid, medicationKey(h.medRef), line)
		if err := r.parts[p].write(*buf); err != nil {
			res.err = err
			return nil
		}
	}
	if h.id != "" {
		h1, h2 := r.idh.sum(h.typ, h.id)
		*buf = idRecord{h1: h1, h2: h2, file: uint32(file), part: part, line: uint64(no)}.append((*buf)[:0])
		if err := r.ids[int(h1%uint64(len(r.ids)))].write(*buf); err != nil {
			res.err = err
		}
	}
	return nil
}

func nameOrType(h header) string {
	if h.id == "" {
		return h.typ
	}
	return h.typ + "/" + h.id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// addShared keeps a Medication resource for the patients that reference
// it.
func (r *run) addShared(file int, no int64, id string, line []byte) *Problem {
	key := "Medication/" + id
	at := loc{file, no}
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	m, ok := r.shared[key]
	if ok {
		if before(at, m.at) { // the first in input order is kept
			m.dups = append(m.dups, m.at)
			r.sharedBytes += int64(len(line) - len(m.raw))
			m.raw, m.at, m.valid = append([]byte(nil), line...), at, jsonValid(line)
		} else {
			m.dups = append(m.dups, at)
		}
		r.evictShared()
		return nil
	}
	if r.sharedCutSet && !before(at, r.sharedCut) {
		r.sharedOut = append(r.sharedOut, sharedLine{key, at})
		return nil
	}
	r.sharedBytes += int64(len(line))
	r.shared[key] = &sharedMed{raw: append([]byte(nil), line...), at: at, valid: jsonValid(line)}
	r.evictShared()
	return nil
}

// evictShared leaves out the last kept Medications in input order until
// the rest fits the limit; the first line left out becomes the cut.
// Evictions happen only past the limit, so the scan is rare.
func (r *run) evictShared() {
	for r.sharedBytes > r.opt.MaxSharedBytes && len(r.shared) > 0 {
		var lastKey string
		var last *sharedMed
		for k, m := range r.shared {
			if last == nil || before(last.at, m.at) {
				lastKey, last = k, m
			}
		}
		delete(r.shared, lastKey)
		r.sharedBytes -= int64(len(last.raw))
		r.sharedCut, r.sharedCutSet = last.at, true
		r.sharedOut = append(r.sharedOut, sharedLine{lastKey, last.at})
		for _, d := range last.dups {
			r.sharedOut = append(r.sharedOut, sharedLine{lastKey, d})
		}
	}
}

func before(a, b loc) bool { return a.file < b.file || (a.file == b.file && a.line < b.line) }

// reportShared reports the repeated and invalid shared Medications, in
// input order.
func (r *run) reportShared() {
	var ps []Problem
	for _, o := range r.sharedOut {
		p := Problem{Kind: KindSharedLimit, File: r.inputs[o.at.file].Name, Line: o.at.line, Resource: o.key,
			Message: fmt.Sprintf("more than %d MiB of shared Medication resources: not read", r.opt.MaxSharedBytes>>20)}
		if m, ok := r.shared[o.key]; ok { // a later copy of one that is kept
			p.Kind, p.Message = KindDuplicate, fmt.Sprintf("%s appears again (first at %s): not read", o.key, r.where(m.at))
		}
		ps = append(ps, p)
	}
	for key, m := range r.shared {
		for _, d := range m.dups {
			ps = append(ps, Problem{Kind: KindDuplicate, File: r.inputs[d.file].Name, Line: d.line, Resource: key,
				Message: fmt.Sprintf("%s appears again (first at %s): not read", key, r.where(m.at))})
		}
		if !m.valid {
			ps = append(ps, Problem{Kind: KindBadJSON, File: r.inputs[m.at.file].Name, Line: m.at.line, Resource: key, Message: "not valid JSON: not read"})
			delete(r.shared, key)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return r.fileIndex(a.File) < r.fileIndex(b.File)
		}
		return a.Line < b.Line
	})
	if !r.ownsUnfiled() { // every shard leaves the same ones out; shard 0 reports them
		return
	}
	for _, p := range ps {
		r.problems.add(p)
	}
}

func (r *run) fileIndex(name string) int {
	for i, in := range r.inputs {
		if in.Name == name {
			return i
		}
	}
	return len(r.inputs)
}

func (r *run) where(l loc) string { return fmt.Sprintf("%s:%d", r.inputs[l.file].Name, l.line) }

// ---- pass 2

// job is one patient's lines, in bundle order.
type job struct {
	seq  int64
	pid  string
	recs []rec
	pre  []Problem // repeats left out
}

func (r *run) pass2() error {
	w := r.opt.Workers
	jobs := make(chan *job, 2*w)
	results := make(chan *outcome, 4*w+16)
	window := make(chan struct{}, 8*w+32) // patients dispatched but not yet written
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := r.newWorker()
			for j := range jobs {
				results <- wk.patient(j)
			}
		}()
	}
	var loadErr error
	go func() {
		defer close(jobs)
		var seq int64
		send := func(j *job) bool {
			j.seq = seq
			seq++
			select {
			case window <- struct{}{}:
			case <-r.ctx.Done():
				return false
			}
			jobs <- j
			return true
		}
		for i, p := range r.parts {
			if p.n == 0 {
				continue
			}
			skips, err := r.loadSkips(i)
			if err == nil {
				err = r.loadPartition(p.path, p.n, r.bits, skips, send)
			}
			if err != nil {
				loadErr = err
				r.cancel()
				return
			}
			if r.ctx.Err() != nil {
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	pw, err := os.Create(filepath.Join(r.out, "plans.ndjson"))
	if err != nil {
		r.cancel()
		for range results {
		}
		return err
	}
	defer pw.Close()
	plans := bufio.NewWriterSize(pw, 128<<10) // 1 MiB writes cost about twice the kernel time here (BENCHMARKS.md)
	pending := map[int64]*outcome{}
	var next int64
	var werr error
	for o := range results {
		pending[o.seq] = o
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if werr == nil {
				if werr = r.collect(c, plans); werr != nil {
					r.cancel()
				}
			}
			<-window
		}
	}
	if werr == nil {
		werr = plans.Flush()
	}
	if cerr := pw.Close(); werr == nil {
		werr = cerr
	}
	switch {
	case loadErr != nil:
		return loadErr
	case werr != nil:
		return werr
	}
	return r.ctx.Err()
}

// loadPartition reads one partition file, splits it first when it is too
// big, and sends its patients in order.
func (r *run) loadPartition(path string, size int64, used uint, skips map[uint64]loc, send func(*job) bool) error {
	if size > 2*r.opt.PartitionBytes && used <= 58 {
		return r.splitPartition(path, size, used, skips, send)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	os.Remove(path)
	recs := make([]rec, 0, len(data)/400+16) // a FHIR resource line is some 500 bytes
	for rest := data; len(rest) > 0; {
		var rc rec
		if rc, rest, err = nextRecord(rest); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		recs = append(recs, rc)
	}
	slices.SortFunc(recs, func(a, b rec) int {
		switch {
		case a.hash != b.hash:
			return cmpU64(a.hash, b.hash)
		case string(a.pid) != string(b.pid):
			return compareBytes(a.pid, b.pid)
		case a.patient != b.patient:
			if a.patient {
				return -1
			}
			return 1
		case a.file != b.file:
			return a.file - b.file
		}
		return cmpU64(uint64(a.line), uint64(b.line))
	})
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].hash == recs[i].hash && string(recs[j].pid) == string(recs[i].pid) {
			j++
		}
		jb := &job{pid: string(recs[i].pid)}
		for _, rc := range recs[i:j] {
			if first, dup := skips[locKey(rc.file, rc.line)]; dup {
				h, _ := scanHeader(rc.raw)
				jb.pre = append(jb.pre, Problem{Kind: KindDuplicate, File: r.inputs[rc.file].Name, Line: rc.line,
					Resource: nameOrType(h), Patient: "Patient/" + jb.pid,
					Message: fmt.Sprintf("%s appears again (first at %s): not read", nameOrType(h), r.where(first))})
				continue
			}
			jb.recs = append(jb.recs, rc)
		}
		if !send(jb) {
			return nil
		}
		i = j
	}
	return nil
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}

// splitPartition splits a partition that is too big by the next hash bits
// and loads the pieces in order.
func (r *run) splitPartition(path string, size int64, used uint, skips map[uint64]loc, send func(*job) bool) error {
	n := uint(bits.Len64(uint64((size + r.opt.PartitionBytes - 1) / r.opt.PartitionBytes)))
	n = min(max(n, 1), 6)
	subs := make([]*spill, 1<<n)
	for i := range subs {
		subs[i] = &spill{path: fmt.Sprintf("%s.%d", path, i)}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var buf []byte
	for {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			break
		}
		need := varLen(l) + int(l)
		if cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:need]
		k := binary.PutUvarint(buf, l)
		if _, err := io.ReadFull(br, buf[k:]); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, errCorrupt)
		}
		rc, _, err := nextRecord(buf)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		sub := int((rc.hash << used) >> (64 - n))
		if err := subs[sub].write(buf); err != nil {
			f.Close()
			return err
		}
	}
	f.Close()
	os.Remove(path)
	for _, s := range subs {
		if err := s.close(); err != nil {
			return err
		}
	}
	for _, s := range subs {
		if s.n == 0 {
			continue
		}
		next := used + n
		if s.n == size { // one patient, or one hash: cannot split further
			next = 64
		}
		if err := r.loadPartition(s.path, s.n, next, skips, send); err != nil {
			return err
		}
		if r.ctx.Err() != nil {
			return nil
		}
	}
	return nil
}
