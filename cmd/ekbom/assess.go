package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/internal/report"
	"ekbom/kb"
)

const assessUsage = "usage: ekbom assess [-format text|markdown|json] [-as-of YYYY-MM-DD] [-input json|yaml] FILE|-\n" +
	"  FILE is a patient record in JSON or YAML, or a FHIR R4 Bundle (detected automatically); - reads stdin.\n" +
	"  Exit status: 0 a plan was produced, 2 invalid or out-of-scope input (every problem on stderr, with its field path), 1 other error."

func cmdAssess(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assess", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text, markdown or json")
	asOf := fs.String("as-of", "", "date the plan is made for (YYYY-MM-DD); overrides the record's as_of; default today")
	input := fs.String("input", "", "input format: json or yaml (default: detect; FHIR Bundles are detected only without -input)")
	setUsage(fs, stderr, assessUsage)
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, assessUsage)
		return 2
	}
	switch strings.ToLower(*input) {
	case "", "json", "yaml", "yml":
	default:
		fmt.Fprintf(stderr, "ekbom: -input: unknown format %q (json or yaml)\n", *input)
		return 2
	}
	switch *format {
	case "text", "markdown", "json":
	default:
		fmt.Fprintf(stderr, "ekbom: -format: unknown format %q (text, markdown or json)\n", *format)
		return 2
	}
	data, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 2
	}
	b, err := kb.Default()
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	today := ekbom.DateFromTime(time.Now())
	var override ekbom.Date
	if *asOf != "" {
		d, err := ekbom.ParseDate(*asOf)
		if err != nil {
			fmt.Fprintf(stderr, "-as-of: %v\n", err)
			return 2
		}
		override = d
	}
	var p *ekbom.Patient
	var fhirResult *fhir.Result
	if *input == "" && fhir.IsFHIR(data) {
		// FHIR R4 Bundle: read with the standard codes, then normalise as usual.
		day := today
		if !override.IsZero() {
			day = override
		}
		fhirResult, err = fhir.ReadBundle(data, b, fhir.Options{AsOf: day})
		if err != nil {
			return printInvalid(stderr, err)
		}
		p = fhirResult.Patient
	} else {
		p, err = intake.Decode(data, *input)
		if err != nil {
			return printInvalid(stderr, err)
		}
		if !override.IsZero() {
			p.AsOf = override
		}
	}
	if err := intake.Normalize(p, b, intake.Options{Today: today}); err != nil {
		return printInvalid(stderr, fhirResult.Locate(err))
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	plan, err := e.Evaluate(p)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	if fhirResult != nil {
		// What the FHIR reader ignored, and why, belongs with the missing data.
		for _, n := range fhirResult.Notes {
			plan.Missing = append(plan.Missing, "FHIR "+n.Resource+": "+n.Message)
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(plan); err != nil {
			fmt.Fprintf(stderr, "ekbom: %v\n", err)
			return 1
		}
		return 0
	}
	if err := report.Write(stdout, plan, report.Format(*format)); err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	return 0
}

// printInvalid prints every problem of a validation error, one per line.
func printInvalid(stderr io.Writer, err error) int {
	var ve *ekbom.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(stderr, p.String())
		}
		return 2
	}
	fmt.Fprintf(stderr, "ekbom: %v\n", err)
	if errors.Is(err, ekbom.ErrInvalid) || errors.Is(err, ekbom.ErrOutOfScope) {
		return 2
	}
	return 2
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	const limit = 8 << 20
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, limit>>20)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, fmt.Errorf("%s: empty input", name)
	}
	return data, nil
}

// interleaved lets flags follow positional arguments ("assess p.yaml -format json").
func interleaved(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}
