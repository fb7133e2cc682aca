package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Unfinished reports whether the run did not end: it crashed, halted, or was
// rolling back, and must be resumed (or the journal moved away by someone who
// has put the farm right) before a new run may start. A run that crashed
// after its last step was confirmed done counts as finished.
func (st State) Unfinished() bool {
	switch {
	case st.Outcome == Succeeded || st.Outcome == RolledBack:
		return false
	case st.ResumeFrom == "" && !st.RollingBack:
		return false
	}
	return true
}

// LastRun returns the state of the last run in the file, reading the file
// backwards from its end only as far as that run's first record: its cost
// does not grow with the runs the journal held before.
func (j *File) LastRun(ctx context.Context) (State, bool, error) {
	if err := ctx.Err(); err != nil {
		return State{}, false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.syncing {
		j.cond.Wait()
	}
	info, err := j.f.Stat()
	if err != nil {
		return State{}, false, fmt.Errorf("journal %s: %w", j.path, err)
	}
	recs, err := lastRun(j.f, info.Size())
	if err != nil {
		return State{}, false, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return LastRunOf(recs)
}

// ReadLastRun returns the records of the last run in the journal file at
// path: from its last run-started record that is not a resume to the end. It
// reads the file backwards and stops there, so its cost is that of the last
// run, not of the journal's history. The records it returns are what
// farm.Plan.Resume and [StateOf] need. A missing file is an error wrapping
// [os.ErrNotExist]; a file without any run gives no records and no error.
func ReadLastRun(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	recs, err := lastRun(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return recs, nil
}

// lastRun reads the last run's records from r (size bytes), backwards. A
// last line cut short by a crash is ignored when it does not parse, as
// Read does.
func lastRun(r io.ReaderAt, size int64) ([]Record, error) {
	b := backLines{r: r, pos: size}
	torn := false
	if size > 0 {
		last := make([]byte, 1)
		if _, err := r.ReadAt(last, size-1); err != nil {
			return nil, err
		}
		torn = last[0] != '\n'
	}
	var recs []Record
	for first := true; ; first = false {
		line, off, ok, err := b.prev()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			if first && torn {
				continue // torn final write
			}
			return nil, fmt.Errorf("record at byte %d: %w", off, err)
		}
		if err := rec.Kind.check(); err != nil {
			return nil, fmt.Errorf("record at byte %d: %w", off, err)
		}
		recs = append(recs, rec)
		if rec.Kind == RunStarted && !rec.Resumed {
			break
		}
	}
	slices.Reverse(recs)
	return recs, nil
}

// backLines yields the lines of r from the last to the first.
type backLines struct {
	r   io.ReaderAt
	pos int64  // buf holds the bytes [pos, pos+len(buf)) not yet returned
	buf []byte // ends with the newline of the next line to return, if any
}

const backChunk = 256 << 10

// prev returns the line before those already returned, without its newline,
// and the offset where it starts; ok is false at the start of the file.
func (b *backLines) prev() (line []byte, off int64, ok bool, err error) {
	for {
		body := b.buf
		if n := len(body); n > 0 && body[n-1] == '\n' {
			body = body[:n-1]
		}
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			line, off = body[i+1:], b.pos+int64(i)+1
			b.buf = b.buf[:i+1]
			return line, off, true, nil
		}
		if b.pos == 0 {
			if len(b.buf) == 0 {
				return nil, 0, false, nil
			}
			b.buf = nil
			return body, 0, true, nil
		}
		n := min(int64(backChunk), b.pos)
		chunk := make([]byte, n, n+int64(len(b.buf)))
		if _, err := b.r.ReadAt(chunk, b.pos-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, false, err
		}
		b.pos -= n
		b.buf = append(chunk, b.buf...)
	}
}
