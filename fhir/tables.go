package fhir

import (
	"strings"
	"sync/atomic"
	"unicode"

	"ekbom/kb"
)

// tables are the lookups the reader derives from a knowledge base: built
// once per base rather than on every call. A base is immutable, so they
// never go stale.
type tables struct {
	b     *kb.Base
	conds condTable
	// names are the drug names of b longest first, without the RxNorm
	// codes (see findDrug).
	names []string
}

// lastTables caches the tables of the most recently used base: a server
// uses one base for its lifetime, so a single entry always hits, and a
// process that switches bases (tests) simply rebuilds.
var lastTables atomic.Pointer[tables]

func tablesFor(b *kb.Base) *tables {
	if t := lastTables.Load(); t != nil && t.b == b {
		return t
	}
	t := &tables{b: b, conds: newCondTable(b)}
	for _, k := range b.DrugNames() {
		if strings.TrimFunc(k, unicode.IsDigit) != "" { // not an RxNorm code
			t.names = append(t.names, k)
		}
	}
	lastTables.Store(t)
	return t
}
