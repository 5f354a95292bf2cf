package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"ekbom/schema"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestPlansMatchPublishedSchema validates every golden plan and every example
// input against the JSON Schemas that `ekbom schema` publishes.
func TestPlansMatchPublishedSchema(t *testing.T) {
	compile := func(name string, data []byte) *jsonschema.Schema {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(name, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	planSchema := compile("plan.schema.json", schema.Plan())
	goldens, _ := filepath.Glob("../testdata/vignettes/*/plan.golden.json")
	if len(goldens) < 30 {
		t.Fatalf("found %d golden plans", len(goldens))
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := planSchema.Validate(v); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
}
