package telemetry

import (
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
