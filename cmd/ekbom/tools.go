package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"ekbom"
	"ekbom/dose"
	"ekbom/internal/report"
	"ekbom/kb"
	"ekbom/schema"
)

func writeJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

func cmdVersion(stdout, stderr io.Writer) int {
	b, err := kb.Default()
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ekbom engine %s, knowledge base %s (released %s), contract %s\n",
		ekbom.EngineVersion, b.Meta.Version, b.Meta.Released, ekbom.ContractVersion)
	return 0
}

const schemaUsage = "usage: ekbom schema patient|plan   (the JSON Schema of the assess input, or of the plan)"

func cmdSchema(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprintln(stderr, schemaUsage)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintln(stderr, schemaUsage)
		return 2
	}
	switch args[0] {
	case "patient":
		stdout.Write(schema.Patient())
	case "plan":
		stdout.Write(schema.Plan())
	default:
		fmt.Fprintf(stderr, "ekbom schema: unknown schema %q (patient or plan)\n", args[0])
		return 2
	}
	return 0
}

func cmdIRLS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("irls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	setUsage(fs, stderr, "usage: ekbom irls [-format text|json] ITEM1 … ITEM10   (the ten IRLS item scores, 0–4 each)")
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if !formatOK(*format, stderr) {
		return 2
	}
	if fs.NArg() != dose.IRLSItems {
		fmt.Fprintf(stderr, "ekbom irls: want %d item scores (0–4), got %d\n", dose.IRLSItems, fs.NArg())
		return 2
	}
	items := make([]int, 0, fs.NArg())
	for i, a := range fs.Args() {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintf(stderr, "item %d: %q is not a whole number\n", i+1, a)
			return 2
		}
		items = append(items, n)
	}
	total, err := dose.IRLSTotal(items)
	if err != nil {
		return printInvalid(stderr, err)
	}
	b, err := kb.Default()
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	band := irlsBand(b, total)
	if *format == "json" {
		return writeJSON(stdout, map[string]any{"items": items, "total": total, "band": band})
	}
	fmt.Fprintf(stdout, "IRLS %d/40: %s\n", total, strings.ReplaceAll(band, "_", " "))
	return 0
}

// irlsBand names the band of an IRLS total using the knowledge-base cut-offs.
func irlsBand(b *kb.Base, total int) string {
	get := func(id string) int {
		t, _ := b.Threshold(id)
		return int(t.Value)
	}
	bands := []dose.Band{
		{Min: 0, Max: get("irls.mild_min") - 1, Name: "none"},
		{Min: get("irls.mild_min"), Max: get("irls.moderate_min") - 1, Name: "mild"},
		{Min: get("irls.moderate_min"), Max: get("irls.severe_min") - 1, Name: "moderate"},
		{Min: get("irls.severe_min"), Max: get("irls.very_severe_min") - 1, Name: "severe"},
		{Min: get("irls.very_severe_min"), Max: 40, Name: "very_severe"},
	}
	name, _ := dose.IRLSBand(total, bands)
	return name
}

func cmdTaper(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("taper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	drug := fs.String("drug", "", "dopaminergic drug (pramipexole, ropinirole, rotigotine, levodopa, or a brand)")
	daily := fs.Float64("dose", 0, "current total daily dose in mg (patch: mg/24 h)")
	start := fs.String("start", "", "date of the first reduction (YYYY-MM-DD; default today)")
	b, err := kb.Default()
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	stepDefault, _ := b.Threshold("augmentation.taper_step_ppx_mg")
	daysDefault, _ := b.Threshold("augmentation.taper_step_days")
	step := fs.Float64("step", stepDefault.Value, "reduction per step in pramipexole-equivalent mg")
	days := fs.Int("days", int(daysDefault.Value), "days between reductions")
	format := fs.String("format", "text", "output format: text or json")
	setUsage(fs, stderr, "usage: ekbom taper -drug NAME -dose MG_PER_DAY [-start YYYY-MM-DD] [-step PPX_MG] [-days N] [-format text|json]\n"+
		"  a dated taper calendar for a dopaminergic drug, in pramipexole-equivalent steps")
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	if !formatOK(*format, stderr) {
		return 2
	}
	d, ok := b.LookupDrug(*drug)
	if !ok || !d.Dopaminergic || d.PPXPerMg <= 0 || d.RLSDose == nil {
		fmt.Fprintf(stderr, "-drug: %q is not a dopaminergic drug with taper data (pramipexole, ropinirole, rotigotine, levodopa)\n", *drug)
		return 2
	}
	from := ekbom.DateFromTime(time.Now())
	if *start != "" {
		if from, err = ekbom.ParseDate(*start); err != nil {
			fmt.Fprintf(stderr, "-start: %v\n", err)
			return 2
		}
	}
	sched, err := dose.TaperSchedule(from, dose.Taper{Drug: d.Name, CurrentDailyMg: *daily, PPXPerMg: d.PPXPerMg,
		StepPPXMg: *step, StepDays: *days, IncrementMg: d.RLSDose.IncrementMg})
	if err != nil {
		return printInvalid(stderr, taperFlags(err))
	}
	if *format == "json" {
		return writeJSON(stdout, map[string]any{"drug": d.ID, "current_daily_mg": *daily, "schedule": sched})
	}
	fmt.Fprintf(stdout, "Taper of %s from %s mg/day, about %s mg pramipexole-equivalent every %d days.\n", d.Name, strconv.FormatFloat(*daily, 'f', -1, 64), strconv.FormatFloat(*step, 'f', -1, 64), *days)
	fmt.Fprintln(stdout, "Start only once another treatment controls symptoms; never stop abruptly.")
	for _, s := range sched {
		fmt.Fprintf(stdout, "  %s  %s\n", s.Date, s.Text)
	}
	return 0
}

func cmdKB(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	setUsage(fs, stderr, "usage: ekbom kb [recommendations|rules|drugs|sources|conflicts|thresholds] [ID] [-format text|json]\n"+
		"  browse the knowledge base (kb/data/*.yaml); ekbom kb drugs NAME prints one drug's facts as JSON")
	if err := fs.Parse(interleaved(args)); err != nil {
		return parseExit(err)
	}
	b, err := kb.Default()
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	section, id := "", ""
	if fs.NArg() > 0 {
		section = fs.Arg(0)
	}
	if fs.NArg() > 1 {
		id = fs.Arg(1)
	}
	if !formatOK(*format, stderr) {
		return 2
	}
	if id != "" && section != "drugs" {
		var ids []string
		switch section {
		case "recommendations":
			ids = idsOf(b.Guideline, func(g *kb.GuidelineRec) string { return g.ID })
		case "rules":
			ids = idsOf(b.RuleList, func(r *kb.Rule) string { return r.ID })
		case "sources":
			ids = idsOf(b.SourceList, func(s *kb.Source) string { return s.ID })
		case "conflicts":
			ids = idsOf(b.ConflictList, func(c *kb.Conflict) string { return c.ID })
		case "thresholds":
			ids = idsOf(b.ThresholdList, func(t *kb.Threshold) string { return t.ID })
		}
		if !slices.Contains(ids, id) {
			fmt.Fprintf(stderr, "ekbom kb: no %s entry %q (ekbom kb %s lists them)\n", section, id, section)
			return 2
		}
	}
	json := *format == "json"
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	switch section {
	case "":
		fmt.Fprintf(stdout, "%s\n%s\n\nsections: recommendations, rules, drugs, sources, conflicts, thresholds\n", b, strings.TrimSpace(b.Meta.Review))
		return 0
	case "recommendations":
		if json {
			return writeJSON(stdout, pick(b.Guideline, id, func(g *kb.GuidelineRec) string { return g.ID }))
		}
		for _, g := range b.Guideline {
			if id != "" && g.ID != id {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.ID, g.Population, g.Direction, report.Badge(g.Strength, g.Certainty, g.Verified()), g.Intervention)
			if id != "" {
				fmt.Fprintf(tw, "\n%s\n%s\n", strings.TrimSpace(g.Text), strings.TrimSpace(g.Note))
			}
		}
	case "rules":
		if json {
			return writeJSON(stdout, pick(b.RuleList, id, func(r *kb.Rule) string { return r.ID }))
		}
		for _, r := range b.RuleList {
			if id != "" && r.ID != id {
				continue
			}
			s, c, v := b.Grade(r)
			grade := ""
			if s != "" {
				grade = report.Badge(s, c, v)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", r.ID, r.Kind, r.Action, r.Target, grade)
			if id != "" {
				fmt.Fprintf(tw, "\n%s\nsources: %s\n", strings.TrimSpace(r.Text), strings.Join(b.RuleSources(r), ", "))
			}
		}
	case "drugs":
		if id != "" {
			d, ok := b.LookupDrug(id)
			if !ok {
				fmt.Fprintf(stderr, "ekbom kb: no drug %q\n", id)
				return 2
			}
			return writeJSON(stdout, d)
		}
		if json {
			return writeJSON(stdout, b.DrugList)
		}
		for _, d := range b.DrugList {
			var flags []string
			if d.Exacerbator != nil {
				flags = append(flags, "worsens RLS")
			}
			if d.Avoid != nil {
				flags = append(flags, "avoid")
			}
			rx := "-"
			if d.RxNorm != nil {
				rx = d.RxNorm.Code
				if !d.RxNorm.Verified {
					rx += "?"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\tRxNorm %s\t%s\t%s\n", d.ID, d.Class, rx, strings.Join(d.Brands, ", "), strings.Join(flags, ", "))
		}
	case "sources":
		if json {
			return writeJSON(stdout, pick(b.SourceList, id, func(s *kb.Source) string { return s.ID }))
		}
		for _, s := range b.SourceList {
			if id == "" || s.ID == id {
				fmt.Fprintf(tw, "%s\t%s\n", s.ID, strings.Join(strings.Fields(s.Citation), " "))
			}
		}
	case "conflicts":
		if json {
			return writeJSON(stdout, pick(b.ConflictList, id, func(c *kb.Conflict) string { return c.ID }))
		}
		for _, c := range b.ConflictList {
			if id != "" && c.ID != id {
				continue
			}
			fmt.Fprintf(stdout, "%s %s\n  ekbom follows: %s\n", c.ID, c.Topic, strings.Join(strings.Fields(c.Resolution), " "))
			for _, p := range c.Positions {
				fmt.Fprintf(stdout, "  - %s: %s\n", p.Source, p.Says)
			}
		}
	case "thresholds":
		if json {
			return writeJSON(stdout, pick(b.ThresholdList, id, func(t *kb.Threshold) string { return t.ID }))
		}
		ts := append([]*kb.Threshold(nil), b.ThresholdList...)
		sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
		for _, t := range ts {
			if id != "" && t.ID != id {
				continue
			}
			v := "verified"
			if !t.Verified {
				v = "unverified"
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", t.ID, strconv.FormatFloat(t.Value, 'f', -1, 64), t.Unit, v, strings.Join(t.Sources, ", "))
		}
	default:
		fmt.Fprintf(stderr, "ekbom kb: unknown section %q\n", section)
		return 2
	}
	return 0
}

// formatOK checks an -format value (text or json), saying so when it is
// neither.
func formatOK(format string, stderr io.Writer) bool {
	if format == "text" || format == "json" {
		return true
	}
	fmt.Fprintf(stderr, "ekbom: -format: %q; want text or json\n", format)
	return false
}

func idsOf[T any](list []T, key func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = key(x)
	}
	return out
}

func pick[T any](list []T, id string, key func(T) string) any {
	if id == "" {
		return list
	}
	for _, x := range list {
		if key(x) == id {
			return x
		}
	}
	return nil
}

// taperFlags names the flags of ekbom taper, rather than the fields of
// dose.Taper, in the problems of a taper that cannot be made.
func taperFlags(err error) error {
	var ve *ekbom.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	flags := map[string]string{"CurrentDailyMg": "-dose", "StepPPXMg": "-step", "StepDays": "-days"}
	out := &ekbom.ValidationError{OutOfScope: ve.OutOfScope}
	for _, p := range ve.Problems {
		if f, ok := flags[p.Path]; ok {
			p.Path = f
		}
		out.Problems = append(out.Problems, p)
	}
	return out
}
