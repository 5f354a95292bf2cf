package intake

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package free of I/O: the standard library's
// computation packages, ekbom, kb and the YAML decoder only. It also keeps
// the clock out: the assessment date comes from the record or Options.
func TestImports(t *testing.T) {
	allowed := []string{
		"bytes", "encoding/json", "errors", "fmt", "io", "math", "reflect", "regexp",
		"slices", "sort", "strconv", "strings", "sync", "time", "unicode", "unicode/utf8",
		"ekbom", "ekbom/kb", "go.yaml.in/yaml/v3",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(allowed, path) {
				t.Errorf("%s imports %q; package intake may import only %v", name, path, allowed)
			}
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "time.Now") {
			t.Errorf("%s reads the clock (time.Now); take the date from the record or Options.Today", name)
		}
	}
}
