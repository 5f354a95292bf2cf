package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The patient of the browser test: the bundled example of augmentation on
// pramipexole (examples/augmentation-on-pramipexole.yaml), entered by hand.
const (
	ptName      = "Margit Testperson"
	ptBirth     = "1964-05-10"
	visit1Date  = "2026-05-04"
	visit2Date  = "2026-11-16"
	invalidDate = "2026-11-20"
)

var (
	idRe   = `[A-Za-z0-9_-]+`
	dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// TestBrowser walks a clinician's day in headless Chromium: sign in, create
// a patient, record a visit (live IRLS score, augmentation, labs,
// medications), assess it, read the plan (warnings first, the iron step,
// the taper calendar), print it, open the handout, record a second visit
// with an infusion, read the timeline charts, and see a field-level error
// for an impossible value. Each main page is saved as a full-page PNG.
func TestBrowser(t *testing.T) {
	srv := sharedServer(t)
	b := newTab(t, srv.URL)
	start := time.Now()
	defer func() { t.Logf("browser walk took %s", time.Since(start).Round(time.Millisecond)) }()

	// seq runs the steps in order; a failed step stops the walk, because
	// the next ones build on it.
	seq := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) {
			parent := b.t
			b.t = t
			defer func() { b.t = parent }()
			f(t)
			if p := b.pageProblems(); len(p) > 0 {
				t.Errorf("the page reported problems:\n  %s", strings.Join(p, "\n  "))
			}
		}) {
			t.FailNow()
		}
	}

	var patientPath, visit1Path, plan1Path string
	ptMRN := "E2E-" + newRunID() // unique: go test -count=2 reuses the server

	seq("login", func(t *testing.T) {
		b.open("/patients", http.StatusOK) // redirected to the sign-in page
		if p := b.path(); p != "/login" {
			t.Fatalf("anonymous /patients ended on %s, want /login", p)
		}
		if h := b.text("h1"); h != "Sign in" {
			t.Errorf("sign-in heading %q", h)
		}
		if b.count("#login-form input[name=csrf]") != 1 {
			t.Error("the sign-in form has no csrf field")
		}
		b.screenshot("01-login")

		// A wrong password first: the form says so and keeps the name.
		b.typeInto("#login-form input[name=username]", adminUser)
		b.typeInto("#login-form input[name=password]", "wrong password!!")
		if resp := b.follow("sign in (wrong)", chromedp.Click(chromedp.CSS("#login-form button[type=submit]"))); resp.Status != http.StatusUnauthorized {
			t.Errorf("wrong password: status %d, want 401", resp.Status)
		}
		if msg := b.text("#main .error-summary"); !strings.Contains(msg, "Wrong username or password") {
			t.Errorf("wrong password message %q", msg)
		}
		if v := eval[string](b, `document.querySelector("#login-form input[name=username]").value`); v != adminUser {
			t.Errorf("username after a failed sign-in %q", v)
		}
		b.pageProblems() // the 401 page load is logged as a network error

		b.typeInto("#login-form input[name=password]", adminPassword)
		b.follow("sign in", chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
		if p := b.path(); p != "/patients" {
			t.Fatalf("after sign-in the browser is on %s, want /patients", p)
		}
		if b.count("form.logout button#logout") != 1 {
			t.Error("no sign-out button")
		}
		if who := b.text(".who"); !strings.Contains(who, adminUser) || !strings.Contains(who, "admin") {
			t.Errorf("signed-in user shown as %q", who)
		}
		if b.count("#patient-list") != 1 || b.count("a#new-patient") != 1 {
			t.Error("the patient list page lacks #patient-list or a#new-patient")
		}
		if !eval[bool](b, `document.documentElement.classList.contains("has-js")`) {
			t.Error("static/app.js did not run (CSP or load failure)")
		}
	})

	seq("create patient", func(t *testing.T) {
		b.follow("new patient", chromedp.Click(chromedp.CSS("a#new-patient")))
		if p := b.path(); p != "/patients/new" {
			t.Fatalf("new patient link went to %s", p)
		}
		b.typeInto("#patient-form input[name=name]", ptName)
		b.typeInto("#patient-form input[name=mrn]", ptMRN)
		b.set("#patient-form input[name=birth_date]", ptBirth)
		b.click(`#patient-form input[name=sex][value=female]`)
		b.follow("save patient", chromedp.Click(chromedp.CSS("button#save-patient")))
		patientPath = b.path()
		if !regexp.MustCompile(`^/patients/` + idRe + `$`).MatchString(patientPath) {
			t.Fatalf("after saving the patient the browser is on %s", patientPath)
		}
		if h := b.text("h1#patient-name"); h != ptName {
			t.Errorf("patient heading %q, want %q", h, ptName)
		}
		meta := b.text("p.meta")
		for _, want := range []string{"MRN " + ptMRN, "female", fmt.Sprintf("%d years", ageToday(ptBirth)), ptBirth} {
			if !strings.Contains(meta, want) {
				t.Errorf("patient facts %q lack %q", meta, want)
			}
		}
		if b.count("#timeline svg#ferritin-chart") != 1 || !strings.Contains(b.text("#visits"), "No visits yet") {
			t.Error("a new patient's page should show empty charts and no visits")
		}

		b.open("/patients?q="+ptMRN, http.StatusOK)
		if list := b.text("#patient-list"); !strings.Contains(list, ptName) || !strings.Contains(list, ptMRN) {
			t.Errorf("search by MRN: %q", list)
		}
		b.open("/patients", http.StatusOK)
		if !strings.Contains(b.text("#patient-list"), ptName) {
			t.Error("the new patient is not in the list")
		}
		b.screenshot("02-patient-list")
	})

	seq("first visit", func(t *testing.T) {
		b.open(patientPath, http.StatusOK)
		b.follow("new visit", chromedp.Click(chromedp.CSS("a#new-visit")))
		if p := b.path(); p != patientPath+"/visits/new" {
			t.Fatalf("new visit link went to %s", p)
		}
		if b.count("#visit-form input[name=age]") != 0 {
			t.Error("the visit form asks for the age although the birth date is known")
		}
		b.set("#visit-form input[name=date]", visit1Date)

		// IRLS: the live total and band follow the clicks.
		if got := b.text("#irls-total"); got != "–" {
			t.Errorf("IRLS total before any answer %q", got)
		}
		items := []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 2} // 29: severe
		for i, v := range items[:5] {
			b.click(fmt.Sprintf(`#visit-form input[name=irls_%d][value="%d"]`, i+1, v))
		}
		if got, band := b.text("#irls-total"), b.text("#irls-band"); got != "15 so far" || band != "5 of 10 answered" {
			t.Errorf("after 5 items: total %q band %q, want \"15 so far\" / \"5 of 10 answered\"", got, band)
		}
		for i, v := range items[5:] {
			b.click(fmt.Sprintf(`#visit-form input[name=irls_%d][value="%d"]`, i+6, v))
		}
		if got, band := b.text("#irls-total"), b.text("#irls-band"); got != "29" || band != "severe" {
			t.Errorf("after 10 items: total %q band %q, want 29 / severe", got, band)
		}
		b.click(`#visit-form input[name=irls_10][value="4"]`) // 31: very severe
		if got, band := b.text("#irls-total"), b.text("#irls-band"); got != "31" || band != "very severe" {
			t.Errorf("item 10 changed to 4: total %q band %q, want 31 / very severe", got, band)
		}
		b.click(`#visit-form input[name=irls_10][value="2"]`)
		if got := b.text("#irls-total"); got != "29" {
			t.Errorf("item 10 back to 2: total %q", got)
		}

		// Augmentation features.
		for _, f := range []string{"screened", "earlier_onset", "spread_to_other_body_parts", "increased_intensity",
			"worse_after_dose_increase", "worse_most_days", "prior_positive_response"} {
			b.click("#visit-form input[name=aug_" + f + "]")
		}
		b.typeInto("#visit-form input[name=aug_onset_advance_hours]", "5")
		b.set("#visit-form select[name=daytime_symptoms]", "yes")

		// Labs: the first row is on the page, the others are added by
		// app.js without a round trip.
		lab := func(i int, test, value, unit, date string) {
			t.Helper()
			row := fmt.Sprintf(`.lab-row[data-row="%d"] `, i)
			b.set(row+fmt.Sprintf(`select[name="labs[%d][test]"]`, i), test)
			b.typeInto(row+fmt.Sprintf(`input[name="labs[%d][value]"]`, i), value)
			b.set(row+fmt.Sprintf(`select[name="labs[%d][unit]"]`, i), unit)
			b.set(row+fmt.Sprintf(`input[name="labs[%d][date]"]`, i), date)
			b.set(row+fmt.Sprintf(`select[name="labs[%d][fasting]"]`, i), "yes")
		}
		if n := b.count(".lab-row"); n != 1 {
			t.Fatalf("a first visit form has %d lab rows, want 1 blank", n)
		}
		lab(0, "ferritin", "48", "ng/mL", "2026-04-28")
		b.click(`button.add-row[data-list=labs]`)
		b.click(`button.add-row[data-list=labs]`)
		if n := b.count(".lab-row"); n != 3 || b.path() != patientPath+"/visits/new" {
			t.Fatalf("after two add-row clicks: %d lab rows on %s, want 3 on the same page", n, b.path())
		}
		// The unit list offers only the units of the chosen test.
		b.set(`select[name="labs[1][test]"]`, "iron")
		if hidden := eval[bool](b, `document.querySelector('select[name="labs[1][unit]"] optgroup[data-test=ferritin]').disabled`); !hidden {
			t.Error("the unit list of an iron row still offers ferritin units")
		}
		lab(1, "iron", "62", "\u00b5g/dL", "2026-04-28")
		lab(2, "tibc", "380", "\u00b5g/dL", "2026-04-28")

		// Medications, as free-text instructions.
		b.typeInto(`input[name="medications[0][sig]"]`, "pramipexole 0.25 mg three times daily")
		b.set(`input[name="medications[0][start]"]`, "2020-09-01")
		b.click(`button.add-row[data-list=medications]`)
		b.typeInto(`input[name="medications[1][sig]"]`, "sertraline 100 mg daily")

		b.click(`#visit-form input[name=conditions][value=depression]`)
		b.typeInto(`#visit-form input[name=caffeine_mg_per_day]`, "300")
		b.typeInto(`#visit-form input[name=sleep_hours]`, "5")
		b.set(`#visit-form select[name=osa_screen]`, "negative")
		b.screenshot("03-visit-form")

		resp := b.follow("save visit", chromedp.Click(chromedp.CSS("button#save-visit")))
		visit1Path = b.path()
		if resp.Status != http.StatusOK || !regexp.MustCompile(`^/visits/`+idRe+`$`).MatchString(visit1Path) {
			t.Fatalf("saving the visit: status %d, now on %s\n%s", resp.Status, visit1Path, b.text("#error-summary"))
		}
		if h := b.text("h1"); h != "Visit "+visit1Date {
			t.Errorf("visit heading %q", h)
		}
		facts := b.text("dl.facts")
		// 61: the first visit is days before the 62nd birthday.
		for _, want := range []string{"61 years, female", "29/40 (severe)", "depression"} {
			if !strings.Contains(facts, want) {
				t.Errorf("visit facts lack %q:\n%s", want, facts)
			}
		}
		main := b.text("#main")
		for _, want := range []string{"ferritin", "48 ng/mL", "62 \u00b5g/dL", "380 \u00b5g/dL", "pramipexole", "sertraline"} {
			if !strings.Contains(main, want) {
				t.Errorf("visit page lacks %q", want)
			}
		}
		if b.count("button#assess") != 1 {
			t.Fatal("no Assess button on the visit page")
		}
	})

	seq("assess and plan", func(t *testing.T) {
		b.follow("assess", chromedp.Click(chromedp.CSS("button#assess")))
		plan1Path = b.path()
		if !regexp.MustCompile(`^/assessments/` + idRe + `$`).MatchString(plan1Path) {
			t.Fatalf("Assess led to %s", plan1Path)
		}
		checkPlan(t, b, visit1Date, "high")
		b.screenshot("05-plan")
	})

	seq("print view", func(t *testing.T) {
		if d := b.display("header.top nav"); d == "none" {
			t.Fatalf("the navigation is hidden on screen (display %q)", d)
		}
		b.media("print")
		defer b.media("")
		for _, sel := range []string{"header.top nav", "header.top", "footer.foot", "#plan-header .buttons", "p.crumbs"} {
			if d := b.display(sel); d != "none" {
				t.Errorf("print: %s has display %q, want none", sel, d)
			}
		}
		for _, sel := range []string{"a#print", "a#handout", "form.logout", "button#logout"} {
			if b.rendered(sel) {
				t.Errorf("print: %s is still drawn", sel)
			}
		}
		for _, sel := range []string{"section#warnings", "section#steps", "#step-iron", "table.schedule"} {
			if d := b.display(sel); d == "none" || strings.HasPrefix(d, "<missing") {
				t.Errorf("print: %s has display %q, want it shown", sel, d)
			}
		}
		b.screenshot("06-plan-print")
		pdf := run(b, "print to PDF", chromedp.PrintToPDF(chromedp.PDFPrintBackground()))
		if !strings.HasPrefix(string(pdf), "%PDF-") || len(pdf) < 10_000 {
			t.Errorf("printing the plan gave %d bytes", len(pdf))
		} else if err := os.WriteFile(filepath.Join(artifacts, "06-plan-print.pdf"), pdf, 0o644); err != nil {
			t.Error(err)
		}
	})

	seq("handout", func(t *testing.T) {
		b.follow("handout", chromedp.Click(chromedp.CSS("a#handout")))
		if p := b.path(); p != plan1Path+"/handout" {
			t.Fatalf("handout link went to %s", p)
		}
		if b.count("body.handout") != 1 {
			t.Error("the handout page lacks body.handout")
		}
		if n := b.count("#todo li"); n == 0 {
			t.Errorf("the handout lists nothing to do:\n%s", b.text("#todo"))
		}
		if !strings.Contains(b.text("#main"), ptName) || b.count("#avoid-drugs") != 1 || b.count("#come-back") != 1 {
			t.Error("the handout lacks the name, #avoid-drugs or #come-back")
		}
		if fs := eval[float64](b, `parseFloat(getComputedStyle(document.body).fontSize)`); fs < 20 {
			t.Errorf("handout font size %gpx, want large type (≥ 20px)", fs)
		}
		b.screenshot("07-handout")
		b.media("print")
		if d := b.display(".noprint"); d != "none" || b.rendered("a#print") {
			t.Errorf("print: the handout's back/print links are drawn (display %q)", d)
		}
		b.screenshot("07-handout-print")
		b.media("")
	})

	seq("second visit and timeline", func(t *testing.T) {
		b.open(patientPath+"/visits/new", http.StatusOK)
		if f := b.text("#main p.flash"); !strings.Contains(f, "Prefilled from the visit of "+visit1Date) {
			t.Errorf("prefill note %q", f)
		}
		if n := b.count(".lab-row"); n != 4 {
			t.Fatalf("prefilled form has %d lab rows, want 3 + 1 blank", n)
		}
		if v := eval[string](b, `document.querySelector('input[name="labs[0][value]"]').value`); v != "48" {
			t.Errorf("prefilled ferritin %q", v)
		}
		if got := b.text("#irls-total"); got != "–" {
			t.Errorf("the IRLS is prefilled (%q); symptoms should be blank", got)
		}
		b.set("#visit-form input[name=date]", visit2Date)
		for i := 1; i <= 10; i++ {
			b.click(fmt.Sprintf(`#visit-form input[name=irls_%d][value="2"]`, i))
		}
		if got, band := b.text("#irls-total"), b.text("#irls-band"); got != "20" || band != "moderate" {
			t.Errorf("second visit IRLS %q %q, want 20 / moderate", got, band)
		}
		b.set(`select[name="labs[3][test]"]`, "ferritin")
		b.typeInto(`input[name="labs[3][value]"]`, "160")
		b.set(`select[name="labs[3][unit]"]`, "ng/mL")
		b.set(`input[name="labs[3][date]"]`, "2026-11-10")
		b.set(`input[name="iron_infusions[0][date]"]`, "2026-08-01")
		products := eval[[]string](b, `[...document.querySelectorAll('select[name="iron_infusions[0][product]"] option')].map(o => o.value).filter(Boolean)`)
		if !slices.Contains(products, "ferric_carboxymaltose") {
			t.Fatalf("infusion products %v lack ferric_carboxymaltose", products)
		}
		b.set(`select[name="iron_infusions[0][product]"]`, "ferric_carboxymaltose")
		b.typeInto(`input[name="iron_infusions[0][dose_mg]"]`, "1000")
		b.follow("save visit 2", chromedp.Click(chromedp.CSS("button#save-visit")))
		if p := b.path(); !strings.HasPrefix(p, "/visits/") || p == visit1Path {
			t.Fatalf("saving the second visit ended on %s:\n%s", p, b.text("#error-summary"))
		}
		if main := b.text("#main"); !strings.Contains(main, "160 ng/mL") || !strings.Contains(main, "1000 mg") {
			t.Errorf("second visit page lacks the new ferritin or the infusion:\n%s", main)
		}
		b.follow("assess visit 2", chromedp.Click(chromedp.CSS("button#assess")))
		if p := b.path(); !strings.HasPrefix(p, "/assessments/") || p == plan1Path {
			t.Fatalf("assessing the second visit ended on %s", p)
		}
		// No augmentation features were ticked this time: the warning
		// stays, as "possible" (moderate).
		checkPlan(t, b, visit2Date, "moderate")

		b.open(patientPath, http.StatusOK)
		checkTimeline(t, b)
		b.screenshot("04-patient-timeline")
	})

	seq("field-level error", func(t *testing.T) {
		b.open(patientPath+"/visits/new", http.StatusOK)
		b.set("#visit-form input[name=date]", invalidDate)
		b.click(`button.add-row[data-list=labs]`)
		i := eval[int](b, `Math.max(...[...document.querySelectorAll(".lab-row")].map(r => +r.dataset.row))`)
		row := fmt.Sprintf(`.lab-row[data-row="%d"] `, i)
		b.set(row+fmt.Sprintf(`select[name="labs[%d][test]"]`, i), "tsat")
		if u := eval[string](b, fmt.Sprintf(`document.querySelector('select[name="labs[%d][unit]"]').value`, i)); u != "%" {
			t.Errorf("choosing TSAT did not select its only unit: %q", u)
		}
		b.typeInto(row+fmt.Sprintf(`input[name="labs[%d][value]"]`, i), "140")
		b.set(row+fmt.Sprintf(`input[name="labs[%d][date]"]`, i), "2026-11-18")
		resp := b.follow("save invalid visit", chromedp.Click(chromedp.CSS("button#save-visit")))
		if resp.Status != http.StatusUnprocessableEntity {
			t.Errorf("TSAT 140 %%: status %d, want 422", resp.Status)
		}
		if p := b.path(); p != patientPath+"/visits" {
			t.Errorf("the rejected form is on %s, want the form again", p)
		}
		type fieldError struct {
			Name, Value, Message, Label string
			Invalid                     bool
		}
		errs := eval[[]fieldError](b, `[...document.querySelectorAll("#visit-form .field-error")].map(e => {
			const label = e.closest("label");
			const input = label && label.querySelector("input, select");
			return {Name: input ? input.name : "", Value: input ? input.value : "",
				Message: e.innerText, Label: label ? label.innerText : "",
				Invalid: !!input && input.getAttribute("aria-invalid") === "true"};
		})`)
		var found bool
		for _, e := range errs {
			if regexp.MustCompile(`^labs\[\d+\]\[value\]$`).MatchString(e.Name) && e.Value == "140" {
				found = true
				if !e.Invalid {
					t.Errorf("the TSAT input is not marked aria-invalid")
				}
				if !strings.Contains(e.Message, "100") {
					t.Errorf("the TSAT message %q does not say what is possible", e.Message)
				}
			}
		}
		if !found {
			t.Errorf("no .field-error beside the TSAT value; errors: %+v", errs)
		}
		if len(errs) != 1 {
			t.Errorf("%d field errors, want only the TSAT one: %+v", len(errs), errs)
		}
		summary := b.text("#error-summary")
		if !strings.Contains(summary, "Lab") || !strings.Contains(summary, "value") {
			t.Errorf("error summary %q", summary)
		}
		if f := eval[string](b, `document.activeElement ? document.activeElement.id : ""`); f != "error-summary" {
			t.Errorf("focus is on %q, want the error summary", f)
		}
		// The form keeps what was typed.
		if d := eval[string](b, `document.querySelector("#visit-form input[name=date]").value`); d != invalidDate {
			t.Errorf("the rejected form lost the date: %q", d)
		}
		b.pageProblems() // the 422 response is logged as a network error
		b.screenshot("08-visit-form-error")
	})

	seq("knowledge base and tools", func(t *testing.T) {
		b.open("/kb", http.StatusOK)
		if h := b.text("h1"); !strings.HasPrefix(h, "Knowledge base") {
			t.Errorf("KB heading %q", h)
		}
		if n := b.count(".kb-index a"); n < 6 {
			t.Errorf("KB index has %d links", n)
		}
		b.screenshot("09-kb")
		b.follow("KB recommendations", chromedp.Click(chromedp.CSS(`.kb-index a[href="/kb/recommendations"]`)))
		if n := eval[int](b, `document.querySelector("#main").innerText.length`); n < 500 {
			t.Errorf("the recommendations page has only %d characters", n)
		}
		b.screenshot("09-kb-recommendations")

		b.open("/tools/taper", http.StatusOK)
		b.set("#taper-form select[name=drug]", "pramipexole")
		b.typeInto("#taper-form input[name=dose]", "0.75")
		b.set("#taper-form input[name=start]", "2026-12-01")
		b.follow("plan taper", chromedp.Click(chromedp.CSS("#taper-form button[type=submit]")))
		dates := eval[[]string](b, `[...document.querySelectorAll("table#taper-schedule tbody tr td:first-child")].map(td => td.innerText)`)
		if len(dates) < 3 || dates[0] != "2026-12-01" || !sortedDates(dates) {
			t.Errorf("taper schedule dates %v", dates)
		}
		last := b.text("table#taper-schedule tbody tr:last-child")
		if !strings.Contains(last, "0 mg") && !strings.Contains(strings.ToLower(last), "stop") {
			t.Errorf("the taper does not end at 0 mg: %q", last)
		}
		b.screenshot("10-taper")
	})
}

// checkPlan checks the plan page of the augmentation patient; augSev is the
// expected severity of the augmentation warning.
func checkPlan(t *testing.T, b *tab, asOf, augSev string) {
	t.Helper()
	if h := b.text("#plan-header h1"); h != "Plan for "+ptName {
		t.Errorf("plan heading %q", h)
	}
	if facts := b.text("#plan-header dl"); !strings.Contains(facts, asOf) {
		t.Errorf("plan facts lack the date %s:\n%s", asOf, facts)
	}
	if b.count("section#warnings") != 1 || b.count("section#steps") != 1 {
		t.Fatal("the plan lacks section#warnings or section#steps")
	}
	if !eval[bool](b, `!!(document.querySelector("section#warnings").compareDocumentPosition(document.querySelector("section#steps")) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
		t.Error("section#warnings does not come before section#steps")
	}
	if top := eval[[]float64](b, `[document.querySelector("section#warnings").getBoundingClientRect().top, document.querySelector("section#steps").getBoundingClientRect().top]`); top[0] >= top[1] {
		t.Errorf("warnings are drawn below the steps (top %v)", top)
	}
	warnings := b.text("section#warnings")
	if !strings.Contains(strings.ToLower(warnings), "augmentation") {
		t.Errorf("the warnings do not mention augmentation:\n%s", warnings)
	}
	if sel := `section#warnings .warning.sev-` + augSev + `[data-code=augmentation]`; b.count(sel) != 1 {
		t.Errorf("no %s augmentation warning (%s)", augSev, sel)
	}
	iron := b.text("section.step#step-iron")
	if strings.HasPrefix(iron, "<missing") || !strings.Contains(strings.ToLower(iron), "iron") {
		t.Errorf("no iron step: %q", iron)
	}
	// The taper calendar: the schedule of the pramipexole taper.
	dates := eval[[]string](b, `[...document.querySelectorAll("section#steps #step-augmentation article.action-taper table.schedule tbody tr td:first-child")].map(td => td.innerText)`)
	if len(dates) < 2 {
		t.Fatalf("no taper calendar in the plan (dates %v)", dates)
	}
	for _, d := range dates {
		if !dateRe.MatchString(d) || d < asOf {
			t.Errorf("taper date %q is not a date on or after %s", d, asOf)
		}
	}
	if !sortedDates(dates) {
		t.Errorf("taper dates out of order: %v", dates)
	}
	if last := b.text("#step-augmentation article.action-taper table.schedule tbody tr:last-child"); !strings.Contains(last, "0 mg") || !strings.Contains(last, "stop") {
		t.Errorf("the taper calendar does not end with stopping: %q", last)
	}
	if b.count("section#avoid") != 1 || b.count("section#monitoring") != 1 || b.count("section#sources li") == 0 {
		t.Error("the plan lacks avoid, monitoring or sources")
	}
	if b.count("a#print") != 1 || b.count("a#handout") != 1 {
		t.Error("the plan lacks a#print or a#handout")
	}
}

// checkTimeline checks the patient page after two visits, the second with
// an infusion.
func checkTimeline(t *testing.T, b *tab) {
	t.Helper()
	if b.count("#timeline svg#ferritin-chart") != 1 || b.count("#timeline svg#irls-chart") != 1 || b.count("#timeline svg#tsat-chart") != 1 {
		t.Fatal("the timeline lacks svg#ferritin-chart, #tsat-chart or #irls-chart")
	}
	classes := eval[[]string](b, `[...document.querySelectorAll("svg#ferritin-chart .hline")].map(g => g.getAttribute("class"))`)
	for _, want := range []string{"th-low", "th-mid", "th-high"} {
		if !slices.ContainsFunc(classes, func(c string) bool { return strings.Contains(c, want) }) {
			t.Errorf("ferritin chart threshold lines %v lack %s", classes, want)
		}
	}
	if n := b.count("svg#ferritin-chart line.vmark.mark-infusion"); n != 1 {
		t.Errorf("ferritin chart has %d infusion markers, want 1", n)
	}
	if n := b.count("svg#ferritin-chart circle.pt"); n != 2 {
		t.Errorf("ferritin chart has %d points, want 2", n)
	}
	data := b.text("#ferritin-chart-figure")
	if !strings.Contains(eval[string](b, `document.querySelector("#ferritin-chart-figure").textContent`), "160 ng/mL") {
		t.Errorf("ferritin chart data lack 160 ng/mL: %q", data)
	}
	if n := b.count("svg#irls-chart circle.pt"); n != 2 {
		t.Errorf("IRLS chart has %d points, want 2", n)
	}
	if n := b.count("svg#irls-chart .hline.th-band"); n < 3 {
		t.Errorf("IRLS chart has %d band lines", n)
	}
	// The pramipexole start (2020) lies far before the IRLS results, so the
	// chart leaves it out and says so rather than squeezing the results.
	if n := b.count("svg#irls-chart line.vmark.mark-med"); n == 0 &&
		!strings.Contains(eval[string](b, `document.querySelector("svg#irls-chart desc").textContent`), "not drawn") {
		t.Error("IRLS chart has neither a medication marker nor a note on markers outside its dates")
	}
	// Drawn, at a readable size, with the points inside the plot.
	box := eval[[]float64](b, `(() => { const r = document.querySelector("svg#ferritin-chart").getBoundingClientRect(); return [r.width, r.height]; })()`)
	if box[0] < 400 || box[1] < 120 {
		t.Errorf("the ferritin chart is drawn at %vx%v px", box[0], box[1])
	}
	outside := eval[int](b, `(() => {
		let n = 0;
		for (const svg of document.querySelectorAll("#timeline svg")) {
			const vb = svg.viewBox.baseVal;
			for (const c of svg.querySelectorAll("circle.pt")) {
				const x = +c.getAttribute("cx"), y = +c.getAttribute("cy");
				if (x < 0 || y < 0 || x > vb.width || y > vb.height) n++;
			}
		}
		return n;
	})()`)
	if outside != 0 {
		t.Errorf("%d chart points lie outside their chart", outside)
	}
	if n := b.count("table#visit-list tbody tr"); n != 2 {
		t.Errorf("visit list has %d rows, want 2", n)
	}
	if n := b.count("#assessments table tbody tr"); n != 2 {
		t.Errorf("assessment list has %d rows, want 2", n)
	}
}

// ageToday is the age in whole years today of someone born on birth
// (YYYY-MM-DD), as the server computes it from its clock.
func ageToday(birth string) int {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		panic(err)
	}
	now := time.Now() // the server's clock and time zone
	age := now.Year() - b.Year()
	if now.Month() < b.Month() || (now.Month() == b.Month() && now.Day() < b.Day()) {
		age--
	}
	return age
}

// sortedDates reports whether YYYY-MM-DD dates are in ascending order.
func sortedDates(ds []string) bool {
	for i := 1; i < len(ds); i++ {
		if ds[i] < ds[i-1] {
			return false
		}
	}
	return true
}
