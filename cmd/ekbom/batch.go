package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ekbom"
	"ekbom/internal/bulk"
)

const batchUsage = `usage: ekbom batch [-out DIR] [-as-of YYYY-MM-DD] [-shard i/N] [-workers N] [-tmp DIR] [-progress auto|bar|lines|off] INPUT_DIR|FILE|-
       ekbom batch merge -out DIR SHARD_DIR...`

const batchMergeUsage = "usage: ekbom batch merge -out DIR SHARD_DIR..."

// cmdBatch plans every patient of a FHIR Bulk Data export (see package
// bulk), or one shard of them (-shard); `ekbom batch merge` puts the shards'
// outputs together. Problems in the export are reported in
// DIR/problems.ndjson and the report; the exit status is 0 whenever the run
// completes, 1 when the output cannot be written, 2 for bad usage.
func cmdBatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return cmdBatchMerge(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "ekbom-batch-out", "output directory: plans.ndjson, problems.ndjson, summary.csv, care-*.csv, report.html")
	asOf := fs.String("as-of", "", "date the plans are made for (YYYY-MM-DD); default today")
	workers := fs.Int("workers", 0, "goroutines planning patients (default: the number of CPUs)")
	tmp := fs.String("tmp", "", "directory for the temporary partition files, which need about the uncompressed size of the export (default: the system's)")
	progress := fs.String("progress", "auto", "progress on stderr: auto (a bar on a terminal, plain lines otherwise), bar, lines or off")
	shardFlag := fs.String("shard", "", "plan only shard i of N (0 ≤ i < N) of the export, e.g. 0/3: the patients whose id hash falls in it;\nrun every shard (on any machines) over the same export, then put them together with ekbom batch merge")
	fs.Usage = func() {
		fmt.Fprintln(stderr, batchUsage)
		fmt.Fprintln(stderr, "\nINPUT_DIR holds the NDJSON files of a FHIR Bulk Data export (Patient.ndjson, Observation.ndjson, …, possibly .gz);\n- reads one mixed NDJSON stream (possibly gzipped) from stdin.")
		fmt.Fprintln(stderr, "\nWith -shard i/N each run reads the whole export but plans only its shard's patients; shard 0 also reports\nwhat belongs to no patient (bad lines, orphans, truncated files). `ekbom batch merge -h` tells how to merge.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, batchUsage)
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
	if *workers < 0 {
		fmt.Fprintln(stderr, "-workers: must not be negative")
		return 2
	}
	var shard bulk.Shard
	if flagSet(fs, "shard") {
		sh, err := parseShard(*shardFlag)
		if err != nil {
			fmt.Fprintf(stderr, "-shard: %v\n", err)
			return 2
		}
		shard = sh
	}
	var inputs []bulk.Input
	var ignored []string
	switch name := fs.Arg(0); {
	case name == "-":
		inputs = []bulk.Input{bulk.StreamInput("stdin", stdin)}
	default:
		fi, err := os.Stat(name)
		if err != nil {
			fmt.Fprintf(stderr, "ekbom: %v\n", err)
			return 2
		}
		if !fi.IsDir() {
			inputs = []bulk.Input{bulk.FileInput(name)}
			break
		}
		if inputs, ignored, err = bulk.DirInputs(name); err != nil {
			fmt.Fprintf(stderr, "ekbom: %v\n", err)
			return 2
		}
		if len(inputs) == 0 {
			fmt.Fprintf(stderr, "ekbom: %s holds no .ndjson or .ndjson.gz files\n", name)
			return 2
		}
	}
	opt := bulk.Options{AsOf: day, Workers: *workers, TempDir: *tmp, Ignored: ignored, Shard: shard}
	switch *progress {
	case "off":
	case "auto", "bar", "lines":
		tty := *progress == "bar" || (*progress == "auto" && isTerminal(stderr))
		pp := &progressPrinter{w: stderr, tty: tty}
		opt.Progress = pp.update
		opt.ProgressEvery = 5 * time.Second
		if tty {
			opt.ProgressEvery = 200 * time.Millisecond
		}
	default:
		fmt.Fprintf(stderr, "ekbom: -progress: unknown value %q (auto, bar, lines or off)\n", *progress)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := bulk.Run(ctx, inputs, *out, opt)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: batch: %v\n", err)
		return 1
	}
	what := "ekbom batch"
	if shard.Count > 1 {
		what += " -shard " + shard.String()
	}
	printBatchSummary(stdout, what, s)
	fmt.Fprintf(stdout, "%.1f s, %.0f patients/s, %.1f MB/s of NDJSON (%.1f MB, %.1f MB as stored)\n", s.Elapsed.Seconds(), s.Rate(),
		float64(s.DataBytes)/1e6/max(s.Elapsed.Seconds(), 1e-9), float64(s.DataBytes)/1e6, float64(s.Bytes)/1e6)
	printBatchFiles(stdout, s, *out)
	return 0
}

// flagSet reports whether the flag was given (even as "").
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseShard reads a -shard value, "i/N" with 0 ≤ i < N.
func parseShard(v string) (bulk.Shard, error) {
	i, n, ok := strings.Cut(v, "/")
	if !ok {
		return bulk.Shard{}, fmt.Errorf("%q: want i/N, the shard's index and the number of shards, e.g. 0/3 for the first of 3", v)
	}
	index, err := strconv.Atoi(i)
	if err != nil {
		return bulk.Shard{}, fmt.Errorf("%q: the index %q is not a whole number", v, i)
	}
	count, err := strconv.Atoi(n)
	if err != nil {
		return bulk.Shard{}, fmt.Errorf("%q: the number of shards %q is not a whole number", v, n)
	}
	if count < 1 {
		return bulk.Shard{}, fmt.Errorf("%q: the number of shards must be at least 1", v)
	}
	if index < 0 || index >= count {
		return bulk.Shard{}, fmt.Errorf("%q: the index must be from 0 to %d (shards are numbered 0 to N-1)", v, count-1)
	}
	return bulk.Shard{Index: index, Count: count}, nil
}

// cmdBatchMerge puts the output directories of the shards of one export
// together (bulk.Merge). The exit status is 0 when the merged output is
// written, 2 for bad usage or shards that do not fit together, 1 when the
// output cannot be written.
func cmdBatchMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("batch merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (required): must not exist or be empty; written in a temporary directory beside it and renamed at the end")
	fs.Usage = func() {
		fmt.Fprintln(stderr, batchMergeUsage)
		fmt.Fprint(stderr, `
Merges the output directories of ekbom batch -shard 0/N … N-1/N, run over the same export, into what one
ekbom batch over the whole export writes: plans.ndjson, problems.ndjson and the care-list CSVs in the same
order (problems of no patient first, then by patient-id hash and id), summary.csv with the counts added up,
and report.html made from it. In summary.csv workers, partitions and elapsed_seconds_total are summed over the
shards; elapsed_seconds and the read, dedupe and plan times are the slowest shard's (the wall time when the
shards run side by side), and the rates are taken over elapsed_seconds; shard_index is "all".
It refuses shards that do not fit together: a shard missing or given twice, different N, as-of dates,
engine or knowledge-base versions or exports, or a shard whose files disagree with its summary.
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if *out == "" {
		fmt.Fprintln(stderr, "-out: required: the directory to write the merged output into")
		fmt.Fprintln(stderr, batchMergeUsage)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, batchMergeUsage)
		return 2
	}
	s, err := bulk.Merge(fs.Args(), *out, bulk.MergeOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: batch merge: %v\n", err)
		if errors.Is(err, ekbom.ErrInvalid) {
			return 2
		}
		return 1
	}
	printBatchSummary(stdout, fmt.Sprintf("ekbom batch merge: %d shards", s.Shard.Count), s)
	fmt.Fprintf(stdout, "slowest shard %.1f s, all shards %.1f s\n", s.Elapsed.Seconds(), s.ElapsedTotal.Seconds())
	printBatchFiles(stdout, s, *out)
	return 0
}

// printBatchSummary prints the counts of a run or a merge.
func printBatchSummary(w io.Writer, what string, s *bulk.Summary) {
	var problems int64
	for _, n := range s.Problems {
		problems += n
	}
	fmt.Fprintf(w, "%s: %d patients: %d plans, %d invalid, %d out of scope, %d failed; %d groups of resources without their Patient; %d problems\n",
		what, s.Patients, s.Planned, s.Invalid, s.OutOfScope, s.Failed, s.MissingPatient, problems)
}

// printBatchFiles prints the files written and the disclaimer.
func printBatchFiles(w io.Writer, s *bulk.Summary, out string) {
	fmt.Fprintf(w, "wrote %s: plans.ndjson, problems.ndjson, summary.csv, report.html", filepath.Clean(out))
	for _, l := range s.CareLists {
		fmt.Fprintf(w, ", %s", l.File)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ekbom supports clinical judgement; it is not a medical device.")
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressPrinter shows bulk.Progress: one updating line with a bar, rate
// and ETA on a terminal, plain lines otherwise.
type progressPrinter struct {
	w          io.Writer
	tty        bool
	phase      string
	phaseStart time.Duration // Elapsed when the phase started
	shown      bool          // a bar line is on screen
}

var phaseNames = map[string]string{"read": "reading", "dedupe": "checking ids", "plan": "planning", "done": "done"}

func (p *progressPrinter) update(pr bulk.Progress) {
	if pr.Phase != p.phase {
		if p.tty && p.shown && p.phase != "" {
			fmt.Fprintln(p.w) // keep the finished phase's line
		}
		if p.phase != "" { // the first phase starts with the run
			p.phaseStart = pr.Elapsed
		}
		p.phase = pr.Phase
	}
	secs := (pr.Elapsed - p.phaseStart).Seconds()
	if pr.Phase == "done" {
		secs = pr.Elapsed.Seconds() // the overall rate
	}
	var done, total float64
	var line string
	switch pr.Phase {
	case "read", "dedupe":
		done, total = float64(pr.Bytes), float64(pr.TotalBytes)
		line = fmt.Sprintf("%s %s", phaseNames[pr.Phase], humanBytes(pr.Bytes))
		if pr.TotalBytes > 0 {
			line += " of " + humanBytes(pr.TotalBytes)
		}
		line += ", " + count(pr.Lines) + " lines"
		if secs >= 0.5 {
			line += fmt.Sprintf(", %.1f MB/s", float64(pr.Bytes)/1e6/secs)
		}
	case "plan", "done":
		done, total = float64(pr.Patients), float64(pr.TotalPatients)
		line = fmt.Sprintf("%s %s/%s patients", phaseNames[pr.Phase], count(pr.Patients), count(pr.TotalPatients))
		if secs >= 0.5 {
			line += ", " + count(int64(float64(pr.Patients)/secs)) + "/s"
			if pr.Phase == "done" {
				line += " overall"
			}
		}
	default:
		line = pr.Phase
	}
	if total > 0 && pr.Phase != "done" {
		frac := min(done/total, 1)
		eta := ""
		if frac > 0.01 && secs > 0.5 {
			eta = " ETA " + clock(time.Duration(secs*(1-frac)/frac*float64(time.Second)))
		}
		if p.tty {
			const width = 28
			n := int(frac * width)
			line = fmt.Sprintf("[%s%s] %3.0f%% %s%s", strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, line, eta)
		} else {
			line = fmt.Sprintf("%3.0f%% %s%s", 100*frac, line, eta)
		}
	}
	line = "ekbom batch: " + line + " (" + clock(pr.Elapsed) + ")"
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+line)
		p.shown = true
		if pr.Phase == "done" {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// count writes n with commas: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
