package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/fsutil"
	"github.com/candor-dev/candor/internal/store"
)

// segmentSuffix ends the name of every journal file. The name before it
// is the sequence number of the file's first record, as 16 hex digits, so
// the names sort in the order the files were written.
const segmentSuffix = ".journal"

// segment is one journal file.
type segment struct {
	path string
	// last is the sequence number of the last record in the file, or the
	// one before its first record while it has none.
	last uint64
	size int64
}

func segmentName(first uint64) string {
	return fmt.Sprintf("%016x%s", first, segmentSuffix)
}

// listSegments returns the paths of the journal files in dir, oldest
// first.
func listSegments(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), segmentSuffix) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(paths)
	return paths, nil
}

// segmentFile is an open journal file. *os.File implements it.
type segmentFile interface {
	io.WriteCloser
	Sync() error
	Truncate(size int64) error
}

// openFunc opens a journal file with the arguments of os.OpenFile. Tests
// pass one whose files fail like those on a full disk.
type openFunc func(name string, flag int, perm os.FileMode) (segmentFile, error)

func openOSFile(name string, flag int, perm os.FileMode) (segmentFile, error) {
	return os.OpenFile(name, flag, perm)
}

// createSegment creates the journal file for records from first on, writes
// its header and syncs it and dir, so the file survives a crash.
func createSegment(open openFunc, dir string, first uint64) (segmentFile, segment, error) {
	path := filepath.Join(dir, segmentName(first))
	f, err := open(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, segment{}, err
	}
	err = writeFull(f, []byte(segmentMagic))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fsutil.SyncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, segment{}, err
	}
	return f, segment{path: path, last: first - 1, size: int64(len(segmentMagic))}, nil
}

// makeDir creates dir if it does not exist, and then syncs its parent, so
// that the folder survives a crash along with the files synced in it.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(dir))
}

// readSegment returns the events of every record in the journal file at
// path, one slice per record, in order. When the file ends in a damaged
// record, it also returns that record's offset and errDamaged.
func readSegment(path string) (records [][]store.Event, damagedAt int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < len(segmentMagic) {
		if strings.HasPrefix(segmentMagic, string(data)) {
			// The header was being written when the process stopped.
			return nil, 0, errDamaged
		}
		return nil, 0, errForeignFile(path)
	}
	if string(data[:len(segmentMagic)]) != segmentMagic {
		return nil, 0, errForeignFile(path)
	}
	offset := int64(len(segmentMagic))
	rest := data[len(segmentMagic):]
	for len(rest) > 0 {
		payload, err := nextPayload(rest)
		if err != nil {
			return records, offset, err
		}
		events, err := decodePayload(payload)
		if err != nil {
			return records, offset, err
		}
		records = append(records, events)
		size := headerSize + len(payload)
		rest = rest[size:]
		offset += int64(size)
	}
	return records, offset, nil
}

// firstSequence returns the sequence number of the first record of the
// journal file at path, which its name holds.
func firstSequence(path string) (uint64, error) {
	name := strings.TrimSuffix(filepath.Base(path), segmentSuffix)
	first, err := strconv.ParseUint(name, 16, 64)
	if err != nil || len(name) != 16 {
		return 0, fmt.Errorf("%s is not a candor journal file, whose name is 16 hex digits and %s: move it out of %s", path, segmentSuffix, filepath.Dir(path))
	}
	return first, nil
}

// errForeignFile returns the error for a file in the journal folder that
// does not start with the journal header.
func errForeignFile(path string) error {
	return fmt.Errorf("%s is not a candor journal file: move it out of %s", path, filepath.Dir(path))
}

// nextPayload returns the payload of the record at the start of b after
// checking its length and checksum.
func nextPayload(b []byte) ([]byte, error) {
	if len(b) < headerSize {
		return nil, errDamaged
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRecordBytes || int64(n) > int64(len(b)-headerSize) {
		return nil, errDamaged
	}
	payload := b[headerSize : headerSize+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, errDamaged
	}
	return payload, nil
}

// reopenSegment opens the journal file at path for appending, cuts it to
// size bytes and syncs it.
func reopenSegment(open openFunc, path string, size int64) (segmentFile, error) {
	f, err := open(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// writeFull writes b at the end of f.
func writeFull(f io.Writer, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// checkpointFile names the file in the journal folder that holds the
// sequence number of the last record loaded before a deletion. Records up
// to it are not loaded again after a crash, so that the events the
// deletion removed stay removed.
const checkpointFile = "checkpoint"

// readCheckpoint returns the sequence number in the checkpoint file of
// dir, or 0 when there is none.
func readCheckpoint(dir string) (uint64, error) {
	path := filepath.Join(dir, checkpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid checkpoint file %s, which contains %q: remove it to load every journaled event, deleted ones included", path, data)
	}
	return seq, nil
}

// writeCheckpoint replaces the checkpoint file of dir with one that holds
// seq, and syncs it and dir. A crash leaves the old file or the new one.
func writeCheckpoint(dir string, seq uint64) error {
	if err := replaceFile(filepath.Join(dir, checkpointFile), strconv.AppendUint(nil, seq, 10)); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// replaceFile replaces the file at path with data in one rename of a
// synced temporary file, so a crash leaves the old contents or the new
// ones. The caller syncs the folder.
func replaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = writeFull(f, data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removeCheckpoint removes the checkpoint file of dir and its temporary
// file, if they exist.
func removeCheckpoint(dir string) error {
	path := filepath.Join(dir, checkpointFile)
	var errs []error
	for _, p := range []string{path, path + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rejectedDir is the folder in the journal folder that keeps the events
// the store rejected.
const rejectedDir = "rejected"

// rejectedEvent is an event the store rejected, with its error.
type rejectedEvent struct {
	event store.Event
	err   error
}

// writeRejected writes events as JSON lines to a new file in dir, named
// by first, the sequence number of the first record of their load, and
// syncs it. It returns the file's path.
func writeRejected(dir string, first uint64, events []rejectedEvent) (string, error) {
	if err := makeDir(dir); err != nil {
		return "", err
	}
	var b []byte
	for _, r := range events {
		line, err := json.Marshal(struct {
			Project    string         `json:"project"`
			UUID       string         `json:"uuid"`
			Event      string         `json:"event"`
			DistinctID string         `json:"distinct_id"`
			Timestamp  time.Time      `json:"timestamp"`
			ReceivedAt time.Time      `json:"received_at"`
			Properties map[string]any `json:"properties"`
			Error      string         `json:"error"`
		}{r.event.Project, r.event.UUID, r.event.Name, r.event.DistinctID, r.event.Timestamp, r.event.ReceivedAt, r.event.Properties, r.err.Error()})
		if err != nil {
			line, _ = json.Marshal(map[string]string{"project": r.event.Project, "uuid": r.event.UUID, "error": r.err.Error(), "encoding_error": err.Error()})
		}
		b = append(append(b, line...), '\n')
	}
	path := filepath.Join(dir, fmt.Sprintf("%016x-%d.jsonl", first, time.Now().UnixNano()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	err = writeFull(f, b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err == nil {
		err = fsutil.SyncDir(dir)
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// rejectedKey holds the members of a line of a rejected-events file that
// a deletion matches.
type rejectedKey struct {
	Project    string    `json:"project"`
	DistinctID string    `json:"distinct_id"`
	Timestamp  time.Time `json:"timestamp"`
}

// removeRejected removes the events that match from the rejected-events
// files in dir, and each file left empty. A line that cannot be decoded
// is kept.
func removeRejected(dir string, match func(rejectedKey) bool) error {
	folder := filepath.Join(dir, rejectedDir)
	entries, err := os.ReadDir(folder)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	changed := false
	for _, entry := range entries {
		if entry.IsDir() || !strings.HasSuffix(entry.Name(), ".jsonl") {
			continue
		}
		removed, err := removeRejectedLines(filepath.Join(folder, entry.Name()), match)
		if err != nil {
			return err
		}
		changed = changed || removed
	}
	if !changed {
		return nil
	}
	return fsutil.SyncDir(folder)
}

// removeRejectedLines rewrites the rejected-events file at path without
// the lines that match, or removes it when none is left. It reports
// whether it changed the file.
func removeRejectedLines(path string, match func(rejectedKey) bool) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var remaining []byte
	removed := false
	for line := range bytes.Lines(data) {
		var key rejectedKey
		if json.Unmarshal(line, &key) == nil && match(key) {
			removed = true
			continue
		}
		remaining = append(remaining, line...)
	}
	if !removed {
		return false, nil
	}
	if len(remaining) == 0 {
		return true, os.Remove(path)
	}
	if err := replaceFile(path, remaining); err != nil {
		return false, err
	}
	return true, nil
}
