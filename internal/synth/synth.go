// Package synth generates realistic synthetic FHIR R4 Bulk Data exports of
// adults with restless legs syndrome, for load tests, demonstrations and
// tests of ekbom's population mode (package bulk).
//
// Each patient is drawn from its own random stream (the seed and the
// patient's index), so an export is reproducible byte for byte from its
// options, and the same patient looks the same in an export of any size.
// Patients come in archetypes that reach the parts of the pathway a purely
// random mix rarely does: refractory RLS, augmentation on a dopamine agonist,
// iron deficiency, ESRD on dialysis, pregnancy and lactation, opioid
// treatment (with sleep apnea, COPD, benzodiazepines, gabapentinoids), and
// drugs that worsen RLS. Ages, sexes, iron studies, kidney function, drug
// mixes and doses are varied around realistic values.
//
// The resources use only codes the knowledge base knows: LOINC from
// kb.Codes.Labs (body weight 29463-7 included), SNOMED CT and ICD-10-CM from
// kb.Codes.Conditions and kb.Codes.Pregnancy, verified RxNorm codes or drug
// names and brands from the drug list, IV iron as MedicationAdministration,
// and answers to ekbom's own Questionnaire (fhir.QuestionnaireURL) for IRLS,
// augmentation features, lifestyle, screening, preferences, pregnancy or
// lactation and conditions EHRs rarely code. Like a real export they also
// hold what ekbom reads past: vital signs, encounters, other problems,
// medicines the knowledge base does not know, an older questionnaire answer.
// Without noise every patient is valid input for fhir.ReadBundle and
// intake.Normalize.
//
// Options.Noise adds deliberate problems to a fraction of the lines
// (malformed JSON, duplicate resources, resources without a patient, without
// a resourceType, or about a patient who is not in the export); Stats.Noise
// counts them so that a test can check every one is reported.
package synth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"

	"ekbom"
	"ekbom/fhir"
	"ekbom/kb"
)

// Options configures a Generator.
type Options struct {
	// Patients is the number of patients to generate.
	Patients int
	// Seed selects the population; the same seed and options give the same
	// bytes.
	Seed uint64
	// AsOf is the reference date: every date in the export is on or before
	// it, and ages are reached on it. Required.
	AsOf ekbom.Date
	// Noise is the fraction of lines (0–1) given a deliberate problem. The
	// zero value writes a clean export.
	Noise float64
	// KB is the knowledge base whose codes are used; nil means kb.Default().
	KB *kb.Base
	// Workers is the number of goroutines drawing patients; 0 means
	// GOMAXPROCS. The output does not depend on it.
	Workers int
}

// Noise kinds, the keys of Stats.Noise.
const (
	NoiseMalformed      = "malformed"        // a line cut short: not valid JSON
	NoiseDuplicate      = "duplicate"        // a resource written twice (same type and id)
	NoiseOrphan         = "orphan"           // an Observation with no subject
	NoiseNoResourceType = "no_resource_type" // a JSON object without resourceType
	NoiseUnknownPatient = "unknown_patient"  // an Observation about a patient not in the export
)

// Stats describes what was written.
type Stats struct {
	Patients int
	// Resources counts the lines written per resource type (noise lines
	// included, under the type of the file they are in).
	Resources map[string]int
	Lines     int
	Bytes     int64 // uncompressed
	// Noise counts the deliberate problems by kind.
	Noise map[string]int
}

// Generator draws synthetic patients. It is safe for concurrent use.
type Generator struct {
	opt            Options
	b              *kb.Base
	seed           uint64
	asOf           ekbom.Date
	drugs          []*kb.Drug // every drug but IV iron
	byClass        map[string][]*kb.Drug
	exacerbators   []*kb.Drug
	ivProducts     []string
	loinc          map[string][]kb.LabCode     // test → codes
	condCodes      map[string]kb.ConditionCode // condition id → codes
	pregnancyCode  kb.StateCode                // pregnant
	rlsCode        kb.DiagnosisCode            // restless legs syndrome itself
	answerSystem   map[string]string           // linkId → the code system of its options
	declineOptions map[string]bool             // coded answers of "declines"
}

// New returns a generator for opt.
func New(opt Options) (*Generator, error) {
	if opt.AsOf.IsZero() {
		return nil, errors.New("synth: Options.AsOf is required")
	}
	if opt.Patients < 0 {
		return nil, errors.New("synth: Options.Patients must not be negative")
	}
	if opt.Noise < 0 || opt.Noise > 1 {
		return nil, errors.New("synth: Options.Noise must be between 0 and 1")
	}
	b := opt.KB
	if b == nil {
		var err error
		if b, err = kb.Default(); err != nil {
			return nil, err
		}
	}
	g := &Generator{opt: opt, b: b, seed: opt.Seed, asOf: opt.AsOf,
		loinc: map[string][]kb.LabCode{}, byClass: map[string][]*kb.Drug{}, condCodes: map[string]kb.ConditionCode{},
		answerSystem: map[string]string{}, declineOptions: map[string]bool{}}
	for _, d := range b.DrugList {
		if d.Class == "iv_iron" {
			g.ivProducts = append(g.ivProducts, d.ID, d.Name)
			g.ivProducts = append(g.ivProducts, d.Brands...)
			continue
		}
		g.drugs = append(g.drugs, d)
		g.byClass[d.Class] = append(g.byClass[d.Class], d)
		if d.Exacerbator != nil {
			g.exacerbators = append(g.exacerbators, d)
		}
	}
	for _, lc := range b.Codes.Labs {
		g.loinc[lc.Test] = append(g.loinc[lc.Test], lc)
	}
	for _, t := range []string{"ferritin", "tsat", "iron", "tibc", "hemoglobin", "creatinine", "egfr", "crp", "weight"} {
		if len(g.loinc[t]) == 0 {
			return nil, fmt.Errorf("synth: the knowledge base has no LOINC code for %s", t)
		}
	}
	for _, cc := range b.Codes.Conditions {
		if len(cc.SNOMED)+len(cc.ICD10CM) > 0 {
			g.condCodes[cc.Condition] = cc
		}
	}
	for _, pc := range b.Codes.Pregnancy {
		if pc.State == "pregnant" && len(pc.SNOMED) > 0 {
			g.pregnancyCode = pc
		}
	}
	for _, dc := range b.Codes.Diagnosis {
		if dc.Diagnosis == "rls" && dc.Verified && len(dc.SNOMED) > 0 && len(dc.ICD10CM) > 0 {
			g.rlsCode = dc
		}
	}
	if len(g.rlsCode.SNOMED) == 0 {
		return nil, errors.New("synth: the knowledge base has no SNOMED CT and ICD-10-CM codes for restless legs syndrome")
	}
	for _, c := range []string{"alpha2delta_ligand", "dopamine_agonist", "oral_iron", "opioid", "benzodiazepine"} {
		if len(g.byClass[c]) == 0 {
			return nil, fmt.Errorf("synth: the knowledge base has no %s", c)
		}
	}
	if len(g.pregnancyCode.SNOMED) == 0 || len(g.exacerbators) == 0 || len(g.ivProducts) == 0 {
		return nil, errors.New("synth: the knowledge base lacks pregnancy codes, exacerbating drugs or IV iron")
	}
	if err := g.readQuestionnaire(); err != nil {
		return nil, err
	}
	return g, nil
}

// readQuestionnaire takes the answer code systems from ekbom's
// Questionnaire, so that coded answers match what the reader expects.
func (g *Generator) readQuestionnaire() error {
	type item struct {
		LinkID       string `json:"linkId"`
		AnswerOption []struct {
			ValueCoding struct{ System, Code string } `json:"valueCoding"`
		} `json:"answerOption"`
		Item []item `json:"item"`
	}
	var q item
	if err := json.Unmarshal(fhir.Questionnaire(), &q); err != nil {
		return fmt.Errorf("synth: ekbom's questionnaire: %w", err)
	}
	var walk func([]item)
	walk = func(items []item) {
		for _, it := range items {
			for _, o := range it.AnswerOption {
				g.answerSystem[it.LinkID] = o.ValueCoding.System
				if it.LinkID == "declines" {
					g.declineOptions[o.ValueCoding.Code] = true
				}
			}
			walk(it.Item)
		}
	}
	walk(q.Item)
	for _, link := range []string{"irls-1", "opioid_risk", "osa_screen", "declines", "pregnancy", "conditions"} {
		if g.answerSystem[link] == "" {
			return fmt.Errorf("synth: ekbom's questionnaire has no coded answers for %s", link)
		}
	}
	return nil
}

// patientID returns the id of patient i: 16 hex digits, unique for a seed
// (a bijective mix of the seed and the index).
func (g *Generator) patientID(i int) string {
	x := g.seed*0x9e3779b97f4a7c15 + uint64(i)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	s := strconv.FormatUint(x, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// PatientID returns the id of the Patient resource of patient i.
func (g *Generator) PatientID(i int) string { return g.patientID(i) }

// Patient returns the resources of patient i (0 ≤ i), the Patient first,
// without noise.
func (g *Generator) Patient(i int) []Resource { return g.render(g.draw(i)) }

// Medications returns the shared Medication resources that patients
// reference by medicationReference (Medication.ndjson).
func (g *Generator) Medications() []Resource { return g.medicationResources() }

// qrConditions returns the patient's conditions the knowledge base has no
// code for; the questionnaire reports them (and treated sleep apnea).
func (g *Generator) qrConditions(p *person) []string {
	var out []string
	for _, c := range p.conds {
		if _, coded := g.condCodes[c]; !coded || c == "sleep_apnea_treated" {
			out = append(out, c)
		}
	}
	return out
}

// qrConditions on the drawing state, for finish.
func (s *state) qrConditions() []string { return s.g.qrConditions(s.p) }

// blockSize is the number of patients drawn together. The output does not
// depend on the number of workers, only on this constant.
const blockSize = 64

// line is one line of output with the type of the file it belongs in.
type line struct {
	typ  string
	data []byte
}

// block is the output of blockSize patients.
type block struct {
	lines []line
	noise map[string]int
}

// drawBlock renders patients [k·blockSize, …) with their noise.
func (g *Generator) drawBlock(k int, shuffle bool) *block {
	bl := &block{noise: map[string]int{}}
	lo, hi := k*blockSize, min((k+1)*blockSize, g.opt.Patients)
	for i := lo; i < hi; i++ {
		res := g.Patient(i)
		if g.opt.Noise <= 0 {
			for _, r := range res {
				bl.lines = append(bl.lines, line{r.Type, r.JSON})
			}
			continue
		}
		nr := rand.New(rand.NewPCG(g.seed^0x6e6f697365, uint64(i)))
		for j, r := range res {
			if nr.Float64() >= g.opt.Noise {
				bl.lines = append(bl.lines, line{r.Type, r.JSON})
				continue
			}
			id := g.patientID(i) + "-x" + strconv.Itoa(j)
			switch kind := []string{NoiseMalformed, NoiseDuplicate, NoiseOrphan, NoiseNoResourceType, NoiseUnknownPatient}[nr.IntN(5)]; kind {
			case NoiseMalformed:
				cut := 1 + nr.IntN(len(r.JSON)-1)
				bl.lines = append(bl.lines, line{r.Type, r.JSON[:cut:cut]})
				bl.noise[kind]++
			case NoiseDuplicate:
				bl.lines = append(bl.lines, line{r.Type, r.JSON}, line{r.Type, r.JSON})
				bl.noise[kind]++
			case NoiseOrphan:
				bl.lines = append(bl.lines, line{r.Type, r.JSON},
					line{"Observation", []byte(`{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":72,"unit":"/min"}}`)})
				bl.noise[kind]++
			case NoiseNoResourceType:
				bl.lines = append(bl.lines, line{r.Type, r.JSON},
					line{r.Type, []byte(`{"id":"` + id + `","status":"final","subject":{"reference":"Patient/` + g.patientID(i) + `"}}`)})
				bl.noise[kind]++
			case NoiseUnknownPatient:
				bl.lines = append(bl.lines, line{r.Type, r.JSON},
					line{"Observation", []byte(`{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},"subject":{"reference":"Patient/gone-` + id + `"},"effectiveDateTime":"` + g.asOf.String() + `","valueQuantity":{"value":50,"unit":"ng/mL"}}`)})
				bl.noise[kind]++
			}
		}
	}
	if shuffle {
		// A mixed stream in no particular order: shuffle within the block.
		sr := rand.New(rand.NewPCG(g.seed^0x73687566, uint64(k)))
		sr.Shuffle(len(bl.lines), func(i, j int) { bl.lines[i], bl.lines[j] = bl.lines[j], bl.lines[i] })
	}
	return bl
}

// generate draws the blocks on the workers and calls emit with each in
// order.
func (g *Generator) generate(shuffle bool, emit func(*block) error) error {
	n := (g.opt.Patients + blockSize - 1) / blockSize
	workers := g.opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type result struct {
		k  int
		bl *block
	}
	jobs := make(chan int)
	results := make(chan result, 2*workers)
	window := make(chan struct{}, 2*workers+2) // blocks drawn but not yet emitted
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				results <- result{k, g.drawBlock(k, shuffle)}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for k := 0; k < n; k++ {
			select {
			case window <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case jobs <- k:
			case <-stop:
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	pending := map[int]*block{}
	next := 0
	var err error
	for r := range results {
		pending[r.k] = r.bl
		for err == nil {
			bl, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err = emit(bl); err != nil {
				close(stop)
			}
			<-window
		}
		if err != nil {
			// Drain so that the workers can finish.
			for range results {
			}
			break
		}
	}
	return err
}

func (st *Stats) count(l line) {
	st.Resources[l.typ]++
	st.Lines++
	st.Bytes += int64(len(l.data)) + 1
}

func newStats(g *Generator) *Stats {
	return &Stats{Patients: g.opt.Patients, Resources: map[string]int{}, Noise: map[string]int{}}
}

// WriteStream writes the export as one NDJSON stream with every resource
// type mixed, in no particular order (shuffled within blocks of patients),
// and the shared Medication resources at the end.
func (g *Generator) WriteStream(w io.Writer) (*Stats, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	st := newStats(g)
	err := g.generate(true, func(bl *block) error {
		for _, l := range bl.lines {
			st.count(l)
			bw.Write(l.data)
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		}
		for k, v := range bl.noise {
			st.Noise[k] += v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range g.Medications() {
		st.count(line{r.Type, r.JSON})
		bw.Write(r.JSON)
		bw.WriteByte('\n')
	}
	return st, bw.Flush()
}

// WriteDir writes the export as a Bulk Data directory: one file per
// resource type (Patient.ndjson, Observation.ndjson, …), gzipped
// (.ndjson.gz) when gz is set. Each file is compressed by its own
// goroutine.
func (g *Generator) WriteDir(dir string, gz bool) (*Stats, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sinks := map[string]*sink{}
	var order []string
	open := func(typ string) (*sink, error) {
		if s, ok := sinks[typ]; ok {
			return s, nil
		}
		name := typ + ".ndjson"
		if gz {
			name += ".gz"
		}
		s, err := newSink(filepath.Join(dir, name), gz)
		if err != nil {
			return nil, err
		}
		sinks[typ] = s
		order = append(order, typ)
		return s, nil
	}
	st := newStats(g)
	err := g.generate(false, func(bl *block) error {
		buf := map[string]*bytes.Buffer{}
		for _, l := range bl.lines {
			st.count(l)
			b := buf[l.typ]
			if b == nil {
				b = &bytes.Buffer{}
				buf[l.typ] = b
			}
			b.Write(l.data)
			b.WriteByte('\n')
		}
		for k, v := range bl.noise {
			st.Noise[k] += v
		}
		types := make([]string, 0, len(buf))
		for t := range buf {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			s, err := open(t)
			if err != nil {
				return err
			}
			if err := s.write(buf[t].Bytes()); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		var s *sink
		if s, err = open("Medication"); err == nil {
			var b bytes.Buffer
			for _, r := range g.Medications() {
				st.count(line{r.Type, r.JSON})
				b.Write(r.JSON)
				b.WriteByte('\n')
			}
			err = s.write(b.Bytes())
		}
	}
	for _, t := range order {
		if cerr := sinks[t].close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// sink writes one file on its own goroutine.
type sink struct {
	ch   chan []byte
	done chan error
}

func newSink(path string, gz bool) (*sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	s := &sink{ch: make(chan []byte, 8), done: make(chan error, 1)}
	go func() {
		bw := bufio.NewWriterSize(f, 1<<20)
		var w io.Writer = bw
		var zw *gzip.Writer
		if gz {
			zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
			w = zw
		}
		var err error
		for b := range s.ch {
			if err == nil {
				_, err = w.Write(b)
			}
		}
		if zw != nil && err == nil {
			err = zw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		s.done <- err
	}()
	return s, nil
}

// write queues b, which the caller must not change afterwards. A write
// error is returned by close.
func (s *sink) write(b []byte) error {
	s.ch <- b
	return nil
}

func (s *sink) close() error {
	close(s.ch)
	return <-s.done
}
