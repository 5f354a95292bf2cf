package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"ekbom"
	"ekbom/internal/synth"
)

const synthUsage = "usage: ekbom synth -n N [-seed S] [-out DIR|-] [-gzip] [-as-of YYYY-MM-DD] [-noise FRACTION] [-workers N]"

// cmdSynth writes a synthetic FHIR Bulk Data export (see package synth):
// a directory of per-type NDJSON files, or one mixed stream on stdout.
func cmdSynth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "number of patients")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and options give the same bytes")
	out := fs.String("out", "-", "output directory (one NDJSON file per resource type), or - for one mixed stream on stdout")
	gz := fs.Bool("gzip", false, "gzip the output (.ndjson.gz files, or a gzipped stream)")
	asOf := fs.String("as-of", "", "reference date of the export (YYYY-MM-DD): every date is on or before it; default today")
	noise := fs.Float64("noise", 0, "fraction of lines given a deliberate problem (malformed JSON, duplicates, orphans, …); default none")
	workers := fs.Int("workers", 0, "goroutines drawing patients (default: the number of CPUs); the output does not depend on it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, synthUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, synthUsage)
		return 2
	}
	day := ekbom.DateFromTime(time.Now())
	if *asOf != "" {
		d, err := ekbom.ParseDate(*asOf)
		if err != nil {
			fmt.Fprintf(stderr, "-as-of: %v\n", err)
			return 2
		}
		day = d
	}
	if *n < 0 {
		fmt.Fprintln(stderr, "-n: must not be negative")
		return 2
	}
	if !(*noise >= 0 && *noise <= 1) {
		fmt.Fprintf(stderr, "-noise: must be a fraction from 0 to 1, got %v\n", *noise)
		return 2
	}
	g, err := synth.New(synth.Options{Patients: *n, Seed: *seed, AsOf: day, Noise: *noise, Workers: *workers})
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 2
	}
	start := time.Now()
	var st *synth.Stats
	where := *out
	if *out == "" || *out == "-" {
		where = "stdout"
		w := stdout
		var zw *gzip.Writer
		if *gz {
			zw, _ = gzip.NewWriterLevel(stdout, gzip.BestSpeed)
			w = zw
		}
		st, err = g.WriteStream(w)
		if err == nil && zw != nil {
			err = zw.Close()
		}
	} else {
		st, err = g.WriteDir(*out, *gz)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: synth: %v\n", err)
		return 1
	}
	types := make([]string, 0, len(st.Resources))
	for t := range st.Resources {
		types = append(types, t)
	}
	sort.Strings(types)
	var parts []string
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s %d", t, st.Resources[t]))
	}
	fmt.Fprintf(stderr, "ekbom synth: %d patients, %d lines (%s), %.1f MB uncompressed, seed %d, as of %s, to %s in %.1f s\n",
		st.Patients, st.Lines, strings.Join(parts, ", "), float64(st.Bytes)/1e6, *seed, day, where, time.Since(start).Seconds())
	if len(st.Noise) > 0 {
		fmt.Fprintf(stderr, "deliberate problems: %v\n", st.Noise)
	}
	return 0
}
