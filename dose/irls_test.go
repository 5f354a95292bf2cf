package dose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIRLSTotal(t *testing.T) {
	tests := []struct {
		name    string
		items   []int
		want    int
		wantErr string
	}{
		{name: "all zero", items: []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: 0},
		{name: "all four", items: []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, want: 40},
		{name: "mixed", items: []int{3, 2, 4, 1, 0, 2, 3, 3, 2, 1}, want: 21},
		{name: "item 3 too high", items: []int{0, 0, 5, 0, 0, 0, 0, 0, 0, 0}, wantErr: "item 3: 5 is outside 0–4"},
		{name: "negative item", items: []int{0, 0, 0, 0, 0, 0, 0, 0, 0, -1}, wantErr: "item 10: -1 is outside 0–4"},
		{
			name:    "every bad item",
			items:   []int{9, 0, 0, 0, 0, 0, 0, 0, -2, 0},
			wantErr: "item 1: 9 is outside 0–4\nitem 9: -2 is outside 0–4",
		},
		{name: "nine items", items: []int{0, 0, 0, 0, 0, 0, 0, 0, 0}, wantErr: "items: got 9 items, want 10"},
		{name: "eleven items", items: make([]int, 11), wantErr: "items: got 11 items, want 10"},
		{name: "nil", wantErr: "items: got 0 items, want 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IRLSTotal(tc.items)
			checkInvalid(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("IRLSTotal(%v) mismatch (-want +got):\n%s", tc.items, diff)
			}
		})
	}
}

func TestIRLSBand(t *testing.T) {
	// Illustrative bands, out of order; the knowledge base owns the real ones.
	bands := []Band{
		{Min: 21, Max: 30, Name: "severe"},
		{Min: 0, Max: 0, Name: "none"},
		{Min: 1, Max: 10, Name: "mild"},
		{Min: 31, Max: 40, Name: "very_severe"},
		{Min: 11, Max: 20, Name: "moderate"},
	}
	tests := []struct {
		name   string
		total  int
		bands  []Band
		want   string
		wantOK bool
	}{
		{name: "zero", total: 0, bands: bands, want: "none", wantOK: true},
		{name: "min inclusive", total: 11, bands: bands, want: "moderate", wantOK: true},
		{name: "max inclusive", total: 20, bands: bands, want: "moderate", wantOK: true},
		{name: "top", total: 40, bands: bands, want: "very_severe", wantOK: true},
		{name: "above every band", total: 41, bands: bands},
		{name: "negative", total: -1, bands: bands},
		{name: "no bands", total: 10},
		{
			name: "overlap picks the first given", total: 10,
			bands: []Band{{Min: 5, Max: 15, Name: "first"}, {Min: 0, Max: 10, Name: "second"}},
			want:  "first", wantOK: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := IRLSBand(tc.total, tc.bands)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("IRLSBand(%d) mismatch (-want +got):\n%s", tc.total, diff)
			}
			if ok != tc.wantOK {
				t.Errorf("IRLSBand(%d) ok = %v, want %v", tc.total, ok, tc.wantOK)
			}
		})
	}
}
