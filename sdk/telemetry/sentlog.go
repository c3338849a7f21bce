package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// sentLog appends every acknowledged event to a local file, one JSON object
// per line, so the user can read what left the machine. The file is rotated
// to <path>.1 when it would grow past maxBytes, which bounds the disk used
// to about twice maxBytes.
type sentLog struct {
	path     string
	maxBytes int64
}

func newSentLog(cfg *Config) *sentLog {
	if cfg.SentLog == "" {
		return nil
	}
	return &sentLog{path: cfg.SentLog, maxBytes: cfg.SentLogMaxBytes}
}

func (l *sentLog) write(events [][]byte) error {
	var size int
	for _, ev := range events {
		size += len(ev) + 1
	}
	if info, err := os.Stat(l.path); err == nil && info.Size()+int64(size) > l.maxBytes {
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, size)
	for _, ev := range events {
		buf = append(append(buf, ev...), '\n')
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ErrNoSentLog is returned by Sent when Config.SentLog is "", so the
// client keeps no record of the events it sent.
var ErrNoSentLog = errors.New("the app keeps no log of sent telemetry: set telemetry.Config.SentLog")

// sentLogTailBytes bounds how much of each sent log file Sent reads, from
// the end, so a large SentLogMaxBytes does not make each call read
// megabytes. One event of the Mux catalog takes less than 1 KiB.
const sentLogTailBytes = 256 << 10

// Sent returns up to limit of the most recent events in the sent log, oldest
// first, each as the sent log recorded it: the event's JSON as the batch
// request carried it. It reads the current file and, when that holds fewer
// than limit events, the rotated copy. Only the last 256 KiB of each file
// are read, so fewer than limit events may be returned although the files
// contain more. It returns ErrNoSentLog when Config.SentLog is "", and no
// error when nothing was sent yet.
//
// NOTE: a rotation between the reads of the two files may leave events out
// of one call's result.
func (c *Client) Sent(limit int) ([]json.RawMessage, error) {
	if c.cfg.SentLog == "" {
		return nil, ErrNoSentLog
	}
	if limit <= 0 {
		return []json.RawMessage{}, nil
	}
	events, err := readSentTail(c.cfg.SentLog, limit)
	if err != nil {
		return nil, fmt.Errorf("read sent log %s: %w", c.cfg.SentLog, err)
	}
	if len(events) < limit {
		older, err := readSentTail(c.cfg.SentLog+".1", limit-len(events))
		if err != nil {
			return nil, fmt.Errorf("read sent log %s: %w", c.cfg.SentLog+".1", err)
		}
		events = append(older, events...)
	}
	return events, nil
}

// readSentTail returns up to limit complete lines from the last
// sentLogTailBytes of path, oldest first. A missing file contains none. A
// last line without its newline is being written and is left out.
func readSentTail(path string, limit int) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := max(info.Size()-sentLogTailBytes, 0)
	data := make([]byte, info.Size()-start)
	if _, err := f.ReadAt(data, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if start > 0 {
		// The read began inside a line, so its first line is partial.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		} else {
			data = nil
		}
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		data = nil
	}

	events := []json.RawMessage{}
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		if len(line) > 0 && json.Valid(line) {
			events = append(events, json.RawMessage(line))
		}
	}
	if len(events) > limit {
		events = events[len(events)-limit:]
	}
	return events, nil
}
