package kb

import "testing"

func TestDefaultLoads(t *testing.T) {
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(b)
}
