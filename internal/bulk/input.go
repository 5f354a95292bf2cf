package bulk

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
)

// Input is one NDJSON stream of an export: a file of a Bulk Data directory,
// or a single mixed stream such as stdin.
type Input struct {
	// Name names the input in problems and the report ("Observation.ndjson",
	// "stdin").
	Name string
	// Open opens the stream. A gzip stream (by name or by its magic
	// number) is decompressed.
	Open func() (io.ReadCloser, error)
	// Size is the size in bytes as stored (compressed for gzip), or 0 when
	// unknown. It sizes the partitions and the progress bar.
	Size int64
	// Gzip says the stored bytes are gzip.
	Gzip bool
	// Uncompressed is the expected size of the data after gunzip (0:
	// unknown, guessed from Size).
	Uncompressed int64
}

// DirInputs lists the NDJSON files of a Bulk Data export directory
// (*.ndjson and *.ndjson.gz, also .jsonl) in name order. Other files are
// returned as ignored.
func DirInputs(dir string) (inputs []Input, ignored []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			ignored = append(ignored, name+"/")
			continue
		}
		base := strings.TrimSuffix(name, ".gz")
		if !strings.HasSuffix(base, ".ndjson") && !strings.HasSuffix(base, ".jsonl") {
			ignored = append(ignored, name)
			continue
		}
		in := FileInput(filepath.Join(dir, name))
		in.Name = name
		inputs = append(inputs, in)
	}
	return inputs, ignored, nil
}

// FileInput is one NDJSON file, gzipped when its name ends in .gz.
func FileInput(path string) Input {
	in := Input{
		Name: filepath.Base(path),
		Open: func() (io.ReadCloser, error) { return os.Open(path) },
		Gzip: strings.HasSuffix(path, ".gz"),
	}
	if fi, err := os.Stat(path); err == nil {
		in.Size = fi.Size()
	}
	if in.Gzip {
		in.Uncompressed = gzipSize(path, in.Size)
	}
	return in
}

// gzipSize estimates the uncompressed size of a gzip file from its trailer,
// which holds the size modulo 2³² (of the last member): of the sizes it
// allows, the one closest to a tenfold compression.
func gzipSize(path string, size int64) int64 {
	f, err := os.Open(path)
	if err != nil || size < 18 {
		return 0
	}
	defer f.Close()
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size-4); err != nil {
		return 0
	}
	isize := int64(tail[0]) | int64(tail[1])<<8 | int64(tail[2])<<16 | int64(tail[3])<<24
	best, guess := isize, 10*size
	for est := isize; est <= 64*size; est += 1 << 32 {
		if absDiff(est, guess) < absDiff(best, guess) {
			best = est
		}
	}
	return best
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// StreamInput is a single mixed NDJSON stream of any resource types in any
// order, such as stdin. It may be gzipped.
func StreamInput(name string, r io.Reader) Input {
	return Input{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}
}

// estimate returns the expected uncompressed size of the inputs, or 0 if
// any size is unknown.
func estimate(inputs []Input) int64 {
	var total int64
	for _, in := range inputs {
		if in.Size <= 0 {
			return 0
		}
		switch {
		case in.Uncompressed > 0:
			total += in.Uncompressed
		case in.Gzip:
			total += in.Size * 10 // FHIR NDJSON compresses about 8–15 times
		default:
			total += in.Size
		}
	}
	return total
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// chunk is a run of whole lines of one input, scanned by one pass-1 worker.
type chunk struct {
	seq   int
	file  int // index of the input
	data  []byte
	lines []lineRef
	last  bool // the last chunk of its input
	// problem is set on the last chunk of an input that ended early or
	// could not be opened.
	problem *Problem
}

// lineRef is one line of a chunk: data[start:end], without the newline.
type lineRef struct {
	start, end int
	no         int64 // line number in the input, from 1
	tooLong    bool  // longer than the limit: the text was dropped
}

// readInput splits one input into chunks of about chunkBytes and sends
// them; seq numbers the chunks of the whole run, and the next seq is
// returned. When the stream ends early (truncated gzip, read error) or
// cannot be opened, the last chunk carries the problem. send returns false
// to stop.
func readInput(in Input, file int, seq int, maxLine, chunkBytes int, counter *atomic.Int64, send func(*chunk) bool) int {
	fail := func(p *Problem) int {
		send(&chunk{seq: seq, file: file, last: true, problem: p})
		return seq + 1
	}
	rc, err := in.Open()
	if err != nil {
		return fail(&Problem{Kind: KindUnreadable, File: in.Name, Message: fmt.Sprintf("cannot open: %v", err)})
	}
	defer rc.Close()
	br := bufio.NewReaderSize(countingReader{rc, counter}, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(&Problem{Kind: KindUnreadable, File: in.Name, Message: fmt.Sprintf("not a readable gzip stream: %v", err)})
		}
		defer zr.Close()
		r = zr
	}
	lr := bufio.NewReaderSize(r, 1<<20)
	c := &chunk{seq: seq, file: file, data: make([]byte, 0, chunkBytes+4096)}
	var no int64
	var long []byte
	flush := func(last bool, p *Problem) bool {
		c.last, c.problem = last, p
		ok := send(c)
		seq++
		c = &chunk{seq: seq, file: file, data: make([]byte, 0, chunkBytes+4096)}
		return ok
	}
	for {
		frag, err := lr.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], frag...)
			for errors.Is(err, bufio.ErrBufferFull) {
				frag, err = lr.ReadSlice('\n')
				if !tooLong && len(long)+len(frag) > maxLine {
					tooLong, long = true, long[:0]
				}
				if !tooLong {
					long = append(long, frag...)
				}
			}
			frag = long
		} else if len(frag) > maxLine {
			tooLong = true
		}
		if err != nil && !errors.Is(err, io.EOF) {
			// The stream ended early (a truncated or corrupt gzip stream,
			// a read error): keep the whole lines read so far.
			msg := fmt.Sprintf("the stream ends early after line %d: %v", no, err)
			if len(frag) > 0 {
				msg = fmt.Sprintf("the stream ends early after line %d (%v); the incomplete line %d was not read", no, err, no+1)
			}
			kind := KindReadError
			if errors.Is(err, io.ErrUnexpectedEOF) {
				kind = KindTruncated
			}
			flush(true, &Problem{Kind: kind, File: in.Name, Line: no, Message: msg})
			return seq
		}
		if len(frag) > 0 || tooLong {
			no++
			line := bytes.TrimRight(frag, "\r\n")
			if no == 1 {
				line = bytes.TrimPrefix(line, bom)
			}
			ref := lineRef{no: no, tooLong: tooLong}
			if !tooLong {
				ref.start = len(c.data)
				c.data = append(c.data, line...)
				ref.end = len(c.data)
			}
			c.lines = append(c.lines, ref)
			if len(c.data) >= chunkBytes {
				if !flush(false, nil) {
					return seq
				}
			}
		}
		if err != nil { // io.EOF
			flush(true, nil)
			return seq
		}
	}
}

var bom = []byte("\xef\xbb\xbf")
