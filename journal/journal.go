// Package journal is the decision log's write-ahead journal: an append-only
// file in the data directory. The engine writes every decision's row there
// before the answer leaves (one write(2), fsynced in batches), then writes
// it into the SQL database and marks it drained. A SIGKILL of the gateway
// loses no row that was answered, and while the database is unreachable the
// rows wait in the file and are drained, oldest first, when it answers.
//
// Format: one JSON record per line. Offsets are logical: they only grow,
// and the file decision-journal.<base>.jsonl in the directory holds the
// bytes from offset base on. The read position (the first offset not known
// to be in the database) is in decision-journal.pos, replaced atomically.
// When the drained head of the file passes CompactBytes and little is
// pending, the pending tail is copied into a new file named by its base and
// the old one removed, so the file stays small under a steady load. A torn
// last line left by a crash is cut off when the journal is opened.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/voipshield/tfps"
)

// ErrFull is returned by Write when the row would take the
// journal past its size limit.
var ErrFull = errors.New("decision journal full")

// CompactBytes is how far the drained head of the file may grow before the
// pending tail is moved into a new file (when at most compactPending bytes
// are pending); a journal limited to less than 4 times that compacts at a
// quarter of its limit.
const (
	CompactBytes   = 16 << 20
	compactPending = 1 << 20
)

const (
	prefix  = "decision-journal."
	suffix  = ".jsonl"
	posName = "decision-journal.pos"
	legacy  = "decision-journal.jsonl" // base 0, as written by earlier releases
)

// Journal is the write-ahead file. It is safe for concurrent use: decisions
// Write from many goroutines, the engine's log writer Peeks, Commits and
// Syncs from one.
type Journal struct {
	mu        sync.Mutex
	dir       string
	f         *os.File
	base      int64 // logical offset of the file's first byte
	size      int64 // logical offset of the end
	pos       int64 // logical offset of the first row not drained
	max       int64
	compactAt int64 // drained bytes that make Commit move the tail: CompactBytes, or max/4 if less
	dirty     bool  // written since the last fsync
	posPath   string
	encoders  sync.Pool // *lineEncoder, for Encode
}

// lineEncoder encodes rows into a buffer it keeps: json.Marshal's result
// is a new slice per row, at thousands of rows a second a good part of
// the gateway's garbage. The output is the same (json.Encoder escapes HTML
// as Marshal does and ends the value with a newline).
type lineEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledEncoder bounds the buffer an encoder keeps: one that grew for an
// odd row (a long reason, a user agent of kilobytes) goes to the collector.
const maxPooledEncoder = 64 << 10

// Open opens (creating) the journal in dir, holding at most max bytes
// (max <= 0: 1 GiB).
func Open(dir string, max int64) (*Journal, error) {
	if max <= 0 {
		max = 1 << 30
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open decision journal: %w", err)
	}
	j := &Journal{dir: dir, posPath: filepath.Join(dir, posName), max: max, compactAt: min(CompactBytes, max/4)}
	if err := j.openFile(); err != nil {
		return nil, err
	}
	if err := j.recover(); err != nil {
		j.f.Close()
		return nil, err
	}
	return j, nil
}

func (j *Journal) name(base int64) string {
	return filepath.Join(j.dir, prefix+strconv.FormatInt(base, 10)+suffix)
}

// openFile opens the file with the highest base (a compaction that was cut
// short leaves the older one behind, complete: it is removed).
func (j *Journal) openFile() error {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("open decision journal: %w", err)
	}
	var bases []int64
	for _, e := range ents {
		n := e.Name()
		if n == legacy {
			if err := os.Rename(filepath.Join(j.dir, n), j.name(0)); err != nil {
				return fmt.Errorf("open decision journal: %w", err)
			}
			bases = append(bases, 0)
			continue
		}
		if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix+".tmp") {
			// A compaction cut short before its rename: the old file holds it all.
			if err := os.Remove(filepath.Join(j.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open decision journal: %w", err)
			}
			continue
		}
		if !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, suffix) {
			continue
		}
		b, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(n, prefix), suffix), 10, 64)
		if err != nil || b < 0 {
			continue
		}
		bases = append(bases, b)
	}
	for _, b := range bases {
		j.base = max(j.base, b)
	}
	for _, b := range bases {
		if b != j.base {
			if err := os.Remove(j.name(b)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open decision journal: remove compacted file: %w", err)
			}
		}
	}
	f, err := os.OpenFile(j.name(j.base), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open decision journal: %w", err)
	}
	j.f = f
	return nil
}

// recover reads the position and cuts a torn last line.
func (j *Journal) recover() error {
	st, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("decision journal: %w", err)
	}
	size := st.Size()
	if size > 0 {
		// Find the last newline: what follows it was never acknowledged.
		buf := make([]byte, min(size, 64<<10))
		end := size
		for end > 0 {
			n := min(int64(len(buf)), end)
			if _, err := j.f.ReadAt(buf[:n], end-n); err != nil {
				return fmt.Errorf("decision journal: %w", err)
			}
			if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
				end = end - n + int64(i) + 1
				break
			}
			end -= n
		}
		if end != size {
			if err := j.f.Truncate(end); err != nil {
				return fmt.Errorf("decision journal: cut torn line: %w", err)
			}
		}
		size = end
	}
	j.size = j.base + size
	j.pos = j.base
	if b, err := os.ReadFile(j.posPath); err == nil {
		p, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil || p < 0 || p > j.size {
			return fmt.Errorf("decision journal: bad position %q in %s (file holds %d to %d)", b, j.posPath, j.base, j.size)
		}
		j.pos = max(p, j.base)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("decision journal: %w", err)
	}
	return nil
}

// Write appends one row with one write(2), without fsync: on return the
// row survives the process being killed (the kernel has it); Sync makes it
// survive the machine. It returns the row's logical start and end offsets.
func (j *Journal) Write(r *tfps.DecisionRecord) (start, end int64, err error) {
	b, err := j.Encode(nil, r)
	if err != nil {
		return 0, 0, err
	}
	return j.Append(b)
}

// Encode appends r to dst as one journal line (JSON and a newline). Lines
// are encoded by the decisions themselves, in parallel, and written
// together by Append.
func (j *Journal) Encode(dst []byte, r *tfps.DecisionRecord) ([]byte, error) {
	e, _ := j.encoders.Get().(*lineEncoder)
	if e == nil {
		e = &lineEncoder{}
		e.enc = json.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	err := e.enc.Encode(r)
	if err == nil {
		dst = append(dst, e.buf.Bytes()...)
	}
	if e.buf.Cap() <= maxPooledEncoder {
		j.encoders.Put(e)
	}
	if err != nil {
		return dst, fmt.Errorf("encode decision journal row: %w", err)
	}
	return dst, nil
}

// Append writes whole lines made by Encode with one write(2), without
// fsync, as Write does for one: the rows of several decisions answered at
// the same moment cost one system call. It returns the logical offsets of
// the first line's start and the last line's end; on an error nothing is
// taken (the next Append writes at the same place).
func (j *Journal) Append(lines []byte) (start, end int64, err error) {
	if len(lines) == 0 || lines[len(lines)-1] != '\n' {
		return 0, 0, fmt.Errorf("append to decision journal: %d bytes not ending a line", len(lines))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.write(lines); err != nil {
		return 0, 0, err
	}
	return j.size - int64(len(lines)), j.size, nil
}

func (j *Journal) write(b []byte) error {
	if j.size-j.base+int64(len(b)) > j.max {
		return fmt.Errorf("write %d bytes: %w (%d of %d bytes)", len(b), ErrFull, j.size-j.base, j.max)
	}
	if _, err := j.f.WriteAt(b, j.size-j.base); err != nil {
		return fmt.Errorf("write to decision journal: %w", err)
	}
	j.size += int64(len(b))
	j.dirty = true
	return nil
}

// Sync fsyncs the rows written since the last Sync, if any. Writes go on
// meanwhile. Sync, Peek and Commit are called from one goroutine.
func (j *Journal) Sync() error {
	j.mu.Lock()
	f, dirty := j.f, j.dirty
	j.dirty = false
	j.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := f.Sync(); err != nil {
		j.mu.Lock()
		j.dirty = true
		j.mu.Unlock()
		return fmt.Errorf("sync decision journal: %w", err)
	}
	return nil
}

func (j *Journal) sync() error {
	if !j.dirty {
		return nil
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync decision journal: %w", err)
	}
	j.dirty = false
	return nil
}

// Peek returns up to max of the oldest rows not yet drained, and the
// position to Commit once they are written.
func (j *Journal) Peek(max int) ([]tfps.DecisionRecord, int64, error) {
	// Written bytes do not change, and only the caller's goroutine moves
	// the file: read without holding up writes.
	j.mu.Lock()
	f, base, pos, size := j.f, j.base, j.pos, j.size
	j.mu.Unlock()
	r := bufio.NewReaderSize(io.NewSectionReader(f, pos-base, size-pos), 256<<10)
	var out []tfps.DecisionRecord
	next := pos
	for len(out) < max {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read decision journal: %w", err)
		}
		var rec tfps.DecisionRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, 0, fmt.Errorf("decision journal at byte %d: %w", next, err)
		}
		out = append(out, rec)
		next += int64(len(line))
	}
	return out, next, nil
}

// Commit marks everything before pos as drained, and moves the pending tail
// to a new file when the drained head has grown past CompactBytes.
func (j *Journal) Commit(pos int64) error {
	j.mu.Lock()
	cur, size := j.pos, j.size
	j.mu.Unlock()
	if pos < cur || pos > size {
		return fmt.Errorf("commit decision journal at %d: outside %d to %d", pos, cur, size)
	}
	tmp := j.posPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(pos, 10)), 0o640); err != nil {
		return fmt.Errorf("decision journal position: %w", err)
	}
	if err := os.Rename(tmp, j.posPath); err != nil {
		return fmt.Errorf("decision journal position: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pos = pos
	if j.pos-j.base >= j.compactAt && j.size-j.pos <= compactPending {
		return j.compact()
	}
	return nil
}

// compact copies the pending tail into a new file whose base is the read
// position, fsyncs it, renames it into place and removes the old file. A
// crash at any step leaves one complete file with the highest base.
func (j *Journal) compact() error {
	tail := make([]byte, j.size-j.pos)
	if _, err := j.f.ReadAt(tail, j.pos-j.base); err != nil {
		return fmt.Errorf("compact decision journal: %w", err)
	}
	name := j.name(j.pos)
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compact decision journal: %w", err)
	}
	if _, err := f.Write(tail); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact decision journal: %w", err)
	}
	old := j.name(j.base)
	j.f.Close()
	j.f, j.base, j.dirty = f, j.pos, false
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("compact decision journal: remove old file: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Pos is the logical offset of the first row not yet drained.
func (j *Journal) Pos() int64 { j.mu.Lock(); defer j.mu.Unlock(); return j.pos }

// Pending is the bytes not yet drained.
func (j *Journal) Pending() int64 { j.mu.Lock(); defer j.mu.Unlock(); return j.size - j.pos }

// Size is the file's size in bytes (drained rows included until the file is
// compacted); Max is its limit.
func (j *Journal) Size() int64 { j.mu.Lock(); defer j.mu.Unlock(); return j.size - j.base }

// Max is the size limit in bytes.
func (j *Journal) Max() int64 { return j.max }

// Close fsyncs and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.sync()
	return errors.Join(err, j.f.Close())
}
