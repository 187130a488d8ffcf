// Package journal is the decision log's local spill: an append-only file in
// the data directory where the engine's log writer puts rows while the SQL
// database is unreachable, and from which it drains them, oldest first, when
// the database answers again. Nothing answered is lost to an outage of any
// length the file's size allows, and the order of the log is kept.
//
// Format: one JSON record per line in <dir>/decision-journal.jsonl; the read
// position (a byte offset) in <dir>/decision-journal.pos, replaced
// atomically. Append writes a whole batch and fsyncs once; a torn last line
// left by a crash is cut off when the journal is opened. When every row has
// been drained the file is truncated.
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
	"sync"

	"github.com/voipshield/tfps"
)

// ErrFull is returned by Append when the batch would take the journal past
// its size limit.
var ErrFull = errors.New("decision journal full")

// Journal is the spill file. It is safe for concurrent use, though the
// engine uses it from its one writer goroutine.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	posPath string
	size    int64 // bytes in the file
	pos     int64 // bytes already drained
	max     int64
}

// Open opens (creating) the journal in dir, holding at most max bytes
// (max <= 0: 1 GiB).
func Open(dir string, max int64) (*Journal, error) {
	if max <= 0 {
		max = 1 << 30
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open decision journal: %w", err)
	}
	j := &Journal{path: filepath.Join(dir, "decision-journal.jsonl"), posPath: filepath.Join(dir, "decision-journal.pos"), max: max}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open decision journal: %w", err)
	}
	j.f = f
	if err := j.recover(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
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
	j.size = size
	if b, err := os.ReadFile(j.posPath); err == nil {
		p, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil || p < 0 || p > size {
			return fmt.Errorf("decision journal: bad position %q in %s", b, j.posPath)
		}
		j.pos = p
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("decision journal: %w", err)
	}
	return nil
}

// Append writes rows at the end and fsyncs: they are durable on return.
func (j *Journal) Append(rows []tfps.DecisionRecord) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			return fmt.Errorf("append to decision journal: %w", err)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.size+int64(b.Len()) > j.max {
		return fmt.Errorf("append %d rows: %w (%d of %d bytes)", len(rows), ErrFull, j.size, j.max)
	}
	if _, err := j.f.WriteAt(b.Bytes(), j.size); err != nil {
		return fmt.Errorf("append to decision journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync decision journal: %w", err)
	}
	j.size += int64(b.Len())
	return nil
}

// Peek returns up to max of the oldest rows not yet drained, and the
// position to Commit once they are written.
func (j *Journal) Peek(max int) ([]tfps.DecisionRecord, int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := bufio.NewReaderSize(io.NewSectionReader(j.f, j.pos, j.size-j.pos), 256<<10)
	var out []tfps.DecisionRecord
	next := j.pos
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

// Commit marks everything before pos as drained; an empty journal is
// truncated.
func (j *Journal) Commit(pos int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if pos >= j.size {
		if err := j.f.Truncate(0); err != nil {
			return fmt.Errorf("truncate decision journal: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("sync decision journal: %w", err)
		}
		j.size, pos = 0, 0
	}
	tmp := j.posPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(pos, 10)), 0o640); err != nil {
		return fmt.Errorf("decision journal position: %w", err)
	}
	if err := os.Rename(tmp, j.posPath); err != nil {
		return fmt.Errorf("decision journal position: %w", err)
	}
	j.pos = pos
	return nil
}

// Pending is the bytes not yet drained; Max the size limit.
func (j *Journal) Pending() int64 { j.mu.Lock(); defer j.mu.Unlock(); return j.size - j.pos }

// Size is the file's size in bytes (drained rows included until the
// journal empties); Max is its limit.
func (j *Journal) Size() int64 { j.mu.Lock(); defer j.mu.Unlock(); return j.size }

// Max is the size limit in bytes.
func (j *Journal) Max() int64 { return j.max }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
