package bulk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// spill is an append-only temporary file shared by the pass-1 workers. It
// is created on the first write.
type spill struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    *bufio.Writer
	n    int64
}

const spillBuffer = 32 << 10

func (s *spill) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		f, err := os.Create(s.path)
		if err != nil {
			return err
		}
		s.f, s.w = f, bufio.NewWriterSize(f, spillBuffer)
	}
	s.n += int64(len(b))
	_, err := s.w.Write(b)
	return err
}

func (s *spill) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f, s.w = nil, nil
	return err
}

// patientHash is the hash of a patient id that places the patient in a
// partition (its top bits), orders plans.ndjson, and picks the shard:
// FNV-1a 64 mixed by MurmurHash3's finaliser (mix64). FNV-1a alone would
// not do: its top bits barely depend on the last bytes of a short id, so
// sequential ids ("p-1" … "p-4000") would pile into a few partitions and
// pass 2's splitting by further bits could not separate them. It has no
// seed, so it is the same in every process and on every machine; it fixes
// the order of the plans and the shards, so it must not change.
func patientHash(id []byte) uint64 { return mix64(fnv1a(id)) }

// fnv1a is FNV-1a 64.
func fnv1a(s []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range s {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// A data record is one resource line filed under its patient:
//
//	uvarint(len(body)) body
//	body = uvarint(file) uvarint(line) flags uvarint(len(pid)) pid uvarint(len(medRef)) medRef raw
//
// flags bit 0 marks the Patient resource itself.
type rec struct {
	hash    uint64
	pid     []byte
	file    int
	line    int64
	patient bool
	medRef  []byte
	raw     []byte
}

func appendRecord(dst []byte, file int, line int64, patient bool, pid, medRef string, raw []byte) []byte {
	n := varLen(uint64(file)) + varLen(uint64(line)) + 1 + varLen(uint64(len(pid))) + len(pid) +
		varLen(uint64(len(medRef))) + len(medRef) + len(raw)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(file))
	dst = binary.AppendUvarint(dst, uint64(line))
	flags := byte(0)
	if patient {
		flags = 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(pid)))
	dst = append(dst, pid...)
	dst = binary.AppendUvarint(dst, uint64(len(medRef)))
	dst = append(dst, medRef...)
	return append(dst, raw...)
}

func varLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

var errCorrupt = errors.New("corrupt temporary file")

// nextRecord decodes the record at the start of b and returns the rest.
// The record's slices point into b.
func nextRecord(b []byte) (rec, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return rec{}, nil, errCorrupt
	}
	body, rest := b[k:k+int(n)], b[k+int(n):]
	var r rec
	var ok bool
	var x uint64
	if x, body, ok = uvarint(body); !ok {
		return rec{}, nil, errCorrupt
	}
	r.file = int(x)
	if x, body, ok = uvarint(body); !ok || len(body) == 0 {
		return rec{}, nil, errCorrupt
	}
	r.line = int64(x)
	r.patient = body[0]&1 != 0
	body = body[1:]
	if r.pid, body, ok = bytesField(body); !ok {
		return rec{}, nil, errCorrupt
	}
	if r.medRef, body, ok = bytesField(body); !ok {
		return rec{}, nil, errCorrupt
	}
	r.raw = body
	r.hash = patientHash(r.pid)
	return r, rest, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	x, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, false
	}
	return x, b[k:], true
}

func bytesField(b []byte) ([]byte, []byte, bool) {
	n, b, ok := uvarint(b)
	if !ok || uint64(len(b)) < n {
		return nil, nil, false
	}
	return b[:n:n], b[n:], true
}

// An id record (idRecordSize bytes) notes that a resource with a type and
// id is at file:line and filed in data partition part, or, with part
// otherShard, about a patient of another shard; the dedupe step sorts them
// to find repeats.
const idRecordSize = 32

// otherShard is the partition of an id record whose resource is not filed
// in this shard: it takes part in finding repeats, but pass 2 never sees it.
const otherShard = 1<<32 - 1

type idRecord struct {
	h1, h2 uint64
	file   uint32
	part   uint32
	line   uint64
}

func (r idRecord) append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, r.h1)
	dst = binary.LittleEndian.AppendUint64(dst, r.h2)
	dst = binary.LittleEndian.AppendUint32(dst, r.file)
	dst = binary.LittleEndian.AppendUint32(dst, r.part)
	return binary.LittleEndian.AppendUint64(dst, r.line)
}

func readIDRecord(b []byte) idRecord {
	return idRecord{
		h1:   binary.LittleEndian.Uint64(b),
		h2:   binary.LittleEndian.Uint64(b[8:]),
		file: binary.LittleEndian.Uint32(b[16:]),
		part: binary.LittleEndian.Uint32(b[20:]),
		line: binary.LittleEndian.Uint64(b[24:]),
	}
}

// idHasher hashes "Type/id" to 128 bits. The seeds are random per run:
// the hash only has to tell ids apart within a run.
type idHasher struct{ s1, s2 maphash.Seed }

func newIDHasher() idHasher { return idHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h idHasher) sum(typ, id string) (uint64, uint64) {
	var a, b maphash.Hash
	a.SetSeed(h.s1)
	b.SetSeed(h.s2)
	a.WriteString(typ)
	a.WriteByte('/')
	a.WriteString(id)
	b.WriteString(typ)
	b.WriteByte('/')
	b.WriteString(id)
	return a.Sum64(), b.Sum64()
}

// A skip record (skipRecordSize bytes) tells pass 2 to leave out the line
// file:line, a repeat of the resource at firstFile:firstLine.
const skipRecordSize = 24

type loc struct {
	file int
	line int64
}

func locKey(file int, line int64) uint64 { return uint64(file)<<40 | uint64(line) }

// dedupe reads the id records of every id partition, and for each resource
// type and id seen more than once files a skip record for every repeat
// (all but the first in input order) under the data partition of the
// repeat. With shards, the id records cover the whole export, so a repeat
// is left out (and reported, by the shard of its patient) exactly as in a
// run over the whole export, even when the first copy is in another shard.
func (r *run) dedupe() error {
	skips := make([]*spill, len(r.parts))
	for i := range skips {
		skips[i] = &spill{path: filepath.Join(r.tmp, fmt.Sprintf("skip-%04d", i))}
	}
	r.skips = skips
	var wg sync.WaitGroup
	errs := make([]error, len(r.ids))
	sem := make(chan struct{}, r.opt.Workers)
	for q, s := range r.ids {
		if s.n == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[q] = r.dedupeOne(s.path)
		}()
	}
	wg.Wait()
	for _, s := range skips {
		if err := s.close(); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

func (r *run) dedupeOne(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	os.Remove(path)
	if len(data)%idRecordSize != 0 {
		return fmt.Errorf("%s: %w", path, errCorrupt)
	}
	recs := make([]idRecord, len(data)/idRecordSize)
	for i := range recs {
		recs[i] = readIDRecord(data[i*idRecordSize:])
	}
	data = nil
	slices.SortFunc(recs, func(a, b idRecord) int {
		switch {
		case a.h1 != b.h1:
			return cmpU64(a.h1, b.h1)
		case a.h2 != b.h2:
			return cmpU64(a.h2, b.h2)
		case a.file != b.file:
			return cmpU64(uint64(a.file), uint64(b.file))
		}
		return cmpU64(a.line, b.line)
	})
	var buf []byte
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].h1 == recs[i].h1 && recs[j].h2 == recs[i].h2 {
			j++
		}
		first := recs[i]
		for _, d := range recs[i+1 : j] {
			if d.part == otherShard {
				continue
			}
			buf = binary.LittleEndian.AppendUint32(buf[:0], d.file)
			buf = binary.LittleEndian.AppendUint32(buf, first.file)
			buf = binary.LittleEndian.AppendUint64(buf, d.line)
			buf = binary.LittleEndian.AppendUint64(buf, first.line)
			if err := r.skips[d.part].write(buf); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadSkips reads the skip records of data partition part: the repeat's
// location → the first's.
func (r *run) loadSkips(part int) (map[uint64]loc, error) {
	if r.skips == nil || r.skips[part].n == 0 {
		return nil, nil
	}
	data, err := os.ReadFile(r.skips[part].path)
	if err != nil {
		return nil, err
	}
	os.Remove(r.skips[part].path)
	m := make(map[uint64]loc, len(data)/skipRecordSize)
	for len(data) >= skipRecordSize {
		file := int(binary.LittleEndian.Uint32(data))
		firstFile := int(binary.LittleEndian.Uint32(data[4:]))
		line := int64(binary.LittleEndian.Uint64(data[8:]))
		firstLine := int64(binary.LittleEndian.Uint64(data[16:]))
		m[locKey(file, line)] = loc{firstFile, firstLine}
		data = data[skipRecordSize:]
	}
	return m, nil
}
