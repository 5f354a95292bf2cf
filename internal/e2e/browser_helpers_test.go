package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's Chromium (EKBOM_CHROMIUM overrides it).
func chromiumPath() string {
	if p := os.Getenv("EKBOM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/lib/chromium/chromium-headless-shell"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// stepTimeout bounds each browser step.
const stepTimeout = 20 * time.Second

// tab is one headless Chromium tab on the app, with the page problems it
// has seen: uncaught exceptions and console errors (CSP refusals among
// them).
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

// newTab starts headless Chromium for the test, or skips the test when
// Chromium is missing (failing instead when CI=true).
func newTab(t *testing.T, base string) *tab {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "Chromium not found; install Debian's chromium (apt-get install -y --no-install-recommends chromium) or set EKBOM_CHROMIUM"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	// Not t.TempDir: Chromium's helpers can still write there after it
	// stops, and a failed removal would fail the test.
	profile, err := os.MkdirTemp("", "ekbom-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// This network is closed: keep Chromium from calling home at all.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("lang", "en-US"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	b := &tab{t: t, ctx: ctx, base: base}
	start, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }() // starts the browser, bound to ctx (no timeout)
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-start.Done():
		t.Fatalf("starting %s: no answer in 30 s", path)
	}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	return b
}

func (b *tab) onEvent(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = "uncaught exception: " + d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			p += " " + d.Exception.Description
		}
		p += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			p = "console." + string(ev.Type)
		}
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e != nil && (e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning) {
			// A 4xx page the test asks for on purpose (the form with
			// errors answers 422) is logged as a network error: not a
			// page problem.
			if e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Text, "422") {
				return
			}
			p = fmt.Sprintf("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// pageProblems returns and forgets the problems seen so far.
func (b *tab) pageProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// step runs actions with the step timeout, failing the test on an error.
func (b *tab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

// run runs one action that returns a value.
func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
	return v
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	return run(b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// location is the current URL, "" when it cannot be read.
func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// path is the current URL's path.
func (b *tab) path() string {
	b.t.Helper()
	u, err := url.Parse(b.location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Path
}

// open navigates to a path of the app and checks the status.
func (b *tab) open(path string, wantStatus int64) {
	b.t.Helper()
	resp := run(b, "open "+path, chromedp.NavigateResponse(b.base+path))
	if resp.Status != wantStatus {
		b.t.Fatalf("GET %s: status %d, want %d", path, resp.Status, wantStatus)
	}
}

// follow runs an action that loads a new page (a click on a link or a
// submit button) and returns the response of the page it ends on.
func (b *tab) follow(what string, a chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
	return resp
}

// click clicks the element matched by a CSS selector, as a person would:
// scrolled into view, and only if nothing covers it there (a covered
// control is a layout bug: a sticky bar or an overlap hides it).
func (b *tab) click(sel string) {
	b.t.Helper()
	b.step("scroll to "+sel, chromedp.ScrollIntoView(chromedp.CSS(sel)))
	cover := eval[string](b, fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		const r = el.getBoundingClientRect();
		const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
		if (!hit || hit === el || el.contains(hit)) return "";
		if (el.labels && [...el.labels].some(l => l.contains(hit))) return "";
		return hit.outerHTML.slice(0, 120);
	})()`, js(sel)))
	if cover != "" {
		b.t.Errorf("%s is covered by %s on %s", sel, cover, b.location())
	}
	b.step("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// set gives the form control matched by sel a value and fires the input
// and change events, as a person's edit would. Used for selects and date
// inputs, whose typing depends on the locale.
func (b *tab) set(sel, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		if (!el) return false;
		if (el.tagName === "SELECT") {
			// Only what a person can pick: an enabled option in an
			// enabled group (a value may appear in several groups).
			const opt = [...el.options].find(o => o.value === %[2]s && !o.disabled && !(o.parentNode.tagName === "OPTGROUP" && o.parentNode.disabled));
			if (!opt) return false;
			opt.selected = true;
		} else {
			el.value = %[2]s;
		}
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return el.value === %[2]s;
	})()`, js(sel), js(value)))
	if !ok {
		b.t.Fatalf("could not set %s to %q (no such control or no such option) on %s", sel, value, b.location())
	}
}

// typeInto types text into an input with key events.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.step("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// text is the visible text of the first element matched by sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.innerText : "<missing " + %s + ">"; })()`, js(sel), js(sel)))
}

// count is how many elements match sel.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%s).length`, js(sel)))
}

// display is the computed CSS display of the first element matched by sel.
func (b *tab) display(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? getComputedStyle(el).display : "<missing>"; })()`, js(sel)))
}

// rendered reports whether the first element matched by sel is drawn (has
// a box); an element inside a display:none parent is not.
func (b *tab) rendered(sel string) bool {
	b.t.Helper()
	return eval[bool](b, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && el.getClientRects().length > 0; })()`, js(sel)))
}

// media emulates a CSS media type ("print"; "" resets).
func (b *tab) media(m string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m}); err != nil {
		b.t.Fatalf("emulate media %q: %v", m, err)
	}
}

// screenshot saves a full-page PNG of the current page as
// artifacts/NAME.png: the viewport is stretched to the page's height for
// the capture, then restored.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	size := eval[[]int](b, `[Math.max(document.documentElement.scrollWidth, 1280), Math.min(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight), 16000)]`)
	b.step("resize for screenshot", chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
	buf := run(b, "screenshot", chromedp.CaptureScreenshot())
	b.step("restore viewport", chromedp.EmulateViewport(1280, 900))
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if cfg.Width < 1000 || cfg.Height < 300 {
		b.t.Errorf("screenshot %s is only %dx%d", name, cfg.Width, cfg.Height)
	}
	file := filepath.Join(artifacts, name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%dx%d)", file, cfg.Width, cfg.Height)
}
