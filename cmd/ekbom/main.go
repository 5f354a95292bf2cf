// Command ekbom is the command-line face of the ekbom clinical decision-support
// engine for refractory restless legs syndrome.
//
//	ekbom assess patient.yaml          a plan for one patient (JSON or YAML; - reads stdin)
//	ekbom batch export/                plans for every patient of a FHIR Bulk Data export, with a report
//	ekbom batch merge -out DIR s0 s1   put together the outputs of ekbom batch -shard 0/2 and 1/2
//	ekbom synth -n 1000 -out export/   a synthetic FHIR Bulk Data export
//	ekbom kb [section] [id]            browse the knowledge base
//	ekbom irls 3 3 2 4 3 3 4 2 3 2     score the ten IRLS items
//	ekbom taper -drug pramipexole -dose 0.75
//	ekbom schema patient|plan          print a JSON Schema
//	ekbom serve                        the clinician web app and CDS Hooks services on http://127.0.0.1:8080
//	ekbom admin create -username NAME  create an administrator (ekbom user create: a clinician)
//	ekbom version                      engine, knowledge-base and contract versions
//
// `ekbom COMMAND -h` lists a command's flags.
//
// ekbom supports clinical judgement; it is not a medical device.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `ekbom — decision support for refractory restless legs syndrome (adults)

usage:
  ekbom assess [-format text|markdown|json] [-as-of YYYY-MM-DD] [-input json|yaml] FILE|-
               (a patient record in JSON or YAML, or a FHIR R4 Bundle, detected automatically)
  ekbom batch [-out DIR] [-as-of YYYY-MM-DD] [-shard i/N] [-workers N] [-tmp DIR] [-progress auto|bar|lines|off] INPUT_DIR|FILE|-
  ekbom batch merge -out DIR SHARD_DIR...      (the outputs of -shard 0/N … N-1/N, as one run over the export)
  ekbom synth -n N [-seed S] [-out DIR|-] [-gzip] [-as-of YYYY-MM-DD] [-noise FRACTION] [-workers N]
  ekbom kb [recommendations|rules|drugs|sources|conflicts|thresholds] [ID] [-format text|json]
  ekbom irls [-format text|json] ITEM1 … ITEM10
  ekbom taper -drug NAME -dose MG_PER_DAY [-start YYYY-MM-DD] [-step PPX_MG] [-days N] [-format text|json]
  ekbom schema patient|plan
  ekbom serve [-addr 127.0.0.1:8080] [-db FILE|postgres://…] [-secure-cookies]
              [-public-url URL] [-cds-issuers FILE] [-cds-replay auto|memory|store] [-cds-insecure-no-auth]
  ekbom admin create -username NAME [-name "Full Name"] [-db …]     (password: EKBOM_ADMIN_PASSWORD or stdin)
  ekbom user create -username NAME [-role clinician|admin] [-name …] [-db …]   (password: EKBOM_USER_PASSWORD or stdin)
  ekbom version

ekbom COMMAND -h lists a command's flags.

Environment: EKBOM_ADDR, EKBOM_DB (default ./ekbom.db; a postgres:// DSN uses PostgreSQL),
EKBOM_PUBLIC_URL, EKBOM_CDS_ISSUERS, EKBOM_CDS_REPLAY (CDS Hooks: see "Using ekbom from an
EHR" in the README).

ekbom supports clinical judgement; it is not a medical device.
Exit status: 0 success (assess: a plan was produced, even one that mostly asks for tests),
2 invalid input or usage (every problem on stderr, with its field or flag), 1 other error;
-h exits 0.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "assess":
		return cmdAssess(rest, stdin, stdout, stderr)
	case "batch":
		return cmdBatch(rest, stdin, stdout, stderr)
	case "synth":
		return cmdSynth(rest, stdout, stderr)
	case "kb":
		return cmdKB(rest, stdout, stderr)
	case "irls":
		return cmdIRLS(rest, stdout, stderr)
	case "taper":
		return cmdTaper(rest, stdout, stderr)
	case "schema":
		return cmdSchema(rest, stdout, stderr)
	case "serve":
		return cmdServe(rest, stderr)
	case "admin":
		return cmdAdmin(rest, stdin, stdout, stderr)
	case "user":
		return cmdUser(rest, stdin, stdout, stderr)
	case "version", "-version", "--version":
		return cmdVersion(stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ekbom: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// parseExit is the exit status after fs.Parse failed: 0 when help was asked
// for (-h; the flag package has printed the usage), 2 for a bad flag.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// setUsage makes -h and a bad flag print the command's usage line, then its
// flags.
func setUsage(fs *flag.FlagSet, w io.Writer, usageLine string) {
	fs.Usage = func() {
		fmt.Fprintln(w, usageLine)
		fs.PrintDefaults()
	}
}
