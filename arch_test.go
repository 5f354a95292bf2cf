package ekbom_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// allowedSideways lists the imports between packages of the same layer that
// the design allows: adapters otherwise never import each other.
var allowedSideways = map[string]bool{
	"ekbom/internal/web -> ekbom/internal/report":         true,
	"ekbom/internal/sqlite -> ekbom/internal/sqlstore":    true,
	"ekbom/internal/postgres -> ekbom/internal/sqlstore":  true,
	"ekbom/internal/storetest -> ekbom/internal/sqlstore": false,
	// cdshooks maps CDS Hooks requests through the FHIR reader, intake
	// and the engine: it sits on top of layer 2 and is used only by
	// internal/web.
	"ekbom/cdshooks -> ekbom/fhir":   true,
	"ekbom/cdshooks -> ekbom/intake": true,
	"ekbom/cdshooks -> ekbom/engine": true,
}

// TestDependencyDirection enforces the layering of shared/style.md: imports
// flow cmd -> internal -> engine/intake/fhir/cdshooks -> kb/dose -> ekbom, and
// the core packages do no I/O.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	// layer of each first-party package; a package may import only lower layers.
	layer := func(path string) int {
		switch {
		case path == "ekbom":
			return 0
		case path == "ekbom/kb" || path == "ekbom/dose" || path == "ekbom/schema" || path == "ekbom/jsonscan":
			return 1
		case path == "ekbom/engine" || path == "ekbom/intake" || path == "ekbom/fhir" || path == "ekbom/cdshooks":
			return 2
		case strings.HasPrefix(path, "ekbom/internal/"):
			return 3
		case strings.HasPrefix(path, "ekbom/cmd/"):
			return 4
		}
		return -1
	}
	// os and log are reached through fmt, so they are checked as direct
	// imports; network and database packages must not be reached at all.
	directIO := []string{"os", "os/exec", "log", "log/slog", "io/ioutil"}
	transitiveIO := []string{"net", "net/http", "database/sql"}
	core := map[string]bool{"ekbom": true, "ekbom/kb": true, "ekbom/dose": true, "ekbom/engine": true, "ekbom/intake": true, "ekbom/cdshooks": true}
	for _, p := range pkgs {
		l := layer(p.ImportPath)
		if l < 0 {
			t.Errorf("%s: package outside the documented layout", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "ekbom") {
				continue
			}
			il := layer(imp)
			if allowedSideways[p.ImportPath+" -> "+imp] {
				continue
			}
			if il >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must flow downwards", p.ImportPath, l, imp, il)
			}
		}
		if core[p.ImportPath] {
			for _, d := range p.Imports {
				for _, f := range directIO {
					if d == f {
						t.Errorf("%s imports %s: core packages do no I/O", p.ImportPath, d)
					}
				}
			}
			for _, d := range p.Deps {
				for _, f := range transitiveIO {
					if d == f {
						t.Errorf("%s depends on %s: core packages do no I/O", p.ImportPath, d)
					}
				}
			}
		}
	}
	// The core never reads the clock: the evaluation date is an input.
	for dir := range map[string]bool{".": true, "kb": true, "dose": true, "engine": true, "intake": true, "fhir": true, "cdshooks": true, "jsonscan": true} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Errorf("no Go files in %s: the clock check read nothing", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(src), "time.Now(") {
				t.Errorf("%s calls time.Now: pass the date in instead", f)
			}
		}
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
}
