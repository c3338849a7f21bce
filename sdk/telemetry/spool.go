package telemetry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The spool keeps batches in files in <Home>/spool, one encoded event per
// line, named <unix nanoseconds>-<events>-<random>.batch so that names sort
// oldest first and the bounds can be kept without opening files. The count
// in a name is trusted only up to what the file's size can hold
// (maxEventsIn). A file contains one batch, or several batches spooled
// together, up to maxFileBytes and maxFileEvents. The sender merges small
// files into one request and sends a file of more than BatchSize events
// in parts. It deletes a file once the collector has acknowledged, or the client has
// dropped, all of its events. After a crash in the middle of a file, its
// acknowledged events are sent again with the same UUIDs.
//
// A file is written to a temporary name, synced and renamed into place, so
// a crash leaves either the whole batch or nothing in the spool. The
// temporary file that a crash leaves is deleted once it is older than
// spoolStaleClaim. A process claims a file before sending it by renaming
// it to <name>.sending-<random>. The rename succeeds for one process only,
// so two processes never send the same file.
// A claim is released by renaming the file back, and one older than
// spoolStaleClaim is taken back from a process that crashed while sending.
const (
	spoolExt         = ".batch"
	spoolClaimMarker = ".sending-"
	spoolTempPrefix  = ".tmp-"
	// spoolStaleClaim is far longer than one upload may take
	// (DefaultRequestTimeout), and a file sent in parts is touched after
	// each part, so a live claim is never taken back.
	spoolStaleClaim = 10 * time.Minute
)

type spool struct {
	dir       string
	maxEvents int
	maxBytes  int64
	stats     *counters
	// countMu makes each listing and its store to Stats.Spooled one step,
	// so that a listing taken before a removal cannot be stored after the
	// count taken since.
	countMu sync.Mutex
	// listings counts the listings of dir, whose cost grows with the
	// number of files.
	listings atomic.Int64
	// maxFileBytes and maxFileEvents bound the files that spoolBatches
	// fills with several batches, so that bounding the spool drops at most
	// that much at once. They are min(maxBytes, maxBatchBytes) and
	// maxEvents/spoolFileShare, at least 1.
	maxFileBytes  int64
	maxFileEvents int
	// unclaimed contains the files of the last listing that claimNext has
	// not tried yet, oldest first, so that claiming a run of files lists
	// the folder once. Whatever puts back a file that sorts before them
	// (release, split, recoverStale) empties it. Only the sender goroutine
	// uses it.
	unclaimed []spoolFile
}

// spoolFile is one file found in the spool directory.
type spoolFile struct {
	name string
	// events is the count in the name, or 1 when the file is corrupt.
	events int
	bytes  int64
	// corrupt is set when the name claims more events than the file's
	// size can hold, or the file alone is larger than Spool.MaxBytes. Such
	// a file is dropped whole, without reading it, and counted as one
	// event.
	corrupt bool
	claimed bool
	modTime time.Time
}

// maxEventsIn returns how many spool lines a file of size bytes can hold.
// Each line is a JSON object, at least "{}", and every line but the last
// ends in a newline.
func maxEventsIn(size int64) int64 {
	return (size + 1) / 3
}

func newSpool(cfg *Config, stats *counters) *spool {
	if cfg.Spool.Disabled || cfg.Home == "" {
		return nil
	}
	s := &spool{
		dir:          filepath.Join(cfg.Home, SpoolDir),
		maxEvents:    cfg.Spool.MaxEvents,
		maxBytes:     cfg.Spool.MaxBytes,
		maxFileBytes: min(cfg.Spool.MaxBytes, maxBatchBytes),
		stats:        stats,
	}
	s.maxFileEvents = max(1, s.maxEvents/spoolFileShare)
	return s
}

// spoolFileShare is how many files of maxFileEvents events fill
// Spool.MaxEvents.
const spoolFileShare = 10

// filesToFill returns how many files of maxFileBytes bytes or
// maxFileEvents events fill an empty spool, whichever is more.
func (s *spool) filesToFill() int {
	return max(int((s.maxBytes+s.maxFileBytes-1)/s.maxFileBytes), spoolFileShare)
}

// list returns the spool's batch files, oldest first. A missing directory
// is an empty spool.
func (s *spool) list() ([]spoolFile, error) {
	s.listings.Add(1)
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []spoolFile
	for _, e := range entries {
		f, ok := parseSpoolName(e.Name())
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		f.bytes, f.modTime = info.Size(), info.ModTime()
		if int64(f.events) > maxEventsIn(f.bytes) || f.bytes > s.maxBytes {
			f.events, f.corrupt = 1, true
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// parseSpoolName reads the event count from a batch file's name.
func parseSpoolName(name string) (spoolFile, bool) {
	base, claim, claimed := strings.Cut(name, spoolClaimMarker)
	if claimed && claim == "" {
		return spoolFile{}, false
	}
	stem, ok := strings.CutSuffix(base, spoolExt)
	if !ok {
		return spoolFile{}, false
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 3 {
		return spoolFile{}, false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n <= 0 {
		return spoolFile{}, false
	}
	return spoolFile{name: name, events: n, claimed: claimed}, true
}

// count updates Stats.Spooled from the files in the directory, which other
// processes of the same app may change too.
func (s *spool) count(files []spoolFile) {
	events, _ := totals(files)
	s.stats.spooled.Store(events)
}

// spoolPartGap is the difference in nanoseconds between the name stamps of
// the parts that write stores of one batch. split names the second half of
// a file with the file's stamp plus 1. Splitting a part of n events down to
// single events adds at most log2(n), under 64, so its pieces still sort
// before the next part.
const spoolPartGap = 64

// write stores a batch as store does, then drops the oldest files until
// the spool is within its bounds.
func (s *spool) write(events [][]byte) error {
	if err := s.store(events); err != nil {
		return err
	}
	s.listBounded()
	return nil
}

// store writes a batch crash-safely without bounding the spool, so that a
// caller that stores many batches lists the folder once, with
// listBounded, after the last. A batch larger than maxBytes is stored in
// parts that each fit, oldest first, because list takes a larger file for
// a corrupt one. A batch of more than maxEvents events is stored in parts
// too, because bounding the spool would drop a larger file whole. An event
// that alone is larger than maxBytes is dropped as spool_full.
// When a write fails, store deletes the parts it wrote and counts nothing,
// so the caller keeps the whole batch.
func (s *spool) store(events [][]byte) error {
	stamp := time.Now().UnixNano()
	var written []string
	var oversized int64
	for len(events) > 0 {
		n, size := 0, int64(0)
		for n < len(events) && n < s.maxEvents && size+int64(len(events[n]))+1 <= s.maxBytes {
			size += int64(len(events[n])) + 1
			n++
		}
		if n == 0 {
			oversized++
			events = events[1:]
			continue
		}
		name, err := s.writeFile(events[:n], stamp+spoolPartGap*int64(len(written)), "")
		if err != nil {
			for _, name := range written {
				os.Remove(filepath.Join(s.dir, name))
			}
			return err
		}
		written = append(written, name)
		events = events[n:]
	}
	if oversized > 0 {
		s.stats.drop(DropSpoolFull, oversized)
	}
	return nil
}

// writeFile stores a batch crash-safely in a file whose name starts with
// stamp and ends with suffix, and returns the name. A suffix that starts
// with spoolClaimMarker creates the file claimed.
func (s *spool) writeFile(events [][]byte, stamp int64, suffix string) (string, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("create spool folder: %s", errorText(err))
	}
	var data bytes.Buffer
	for _, ev := range events {
		data.Write(ev)
		data.WriteByte('\n')
	}
	tmp, err := writeTemp(s.dir, spoolTempPrefix+"*", data.Bytes())
	if err != nil {
		return "", fmt.Errorf("write spool file: %s", errorText(err))
	}
	name := fmt.Sprintf("%020d-%d-%s%s%s", stamp, len(events), randomHex(4), spoolExt, suffix)
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write spool file: %s", errorText(err))
	}
	syncDir(s.dir)
	return name, nil
}

// split replaces the claimed file of b by two files that hold first and
// second, the halves of b. Their names sort where the name of b's file
// did, first before second, so the halves go before the batches spooled
// after b. When a write fails, split deletes what it wrote and leaves b's
// file claimed.
func (s *spool) split(b *batch, first, second [][]byte) error {
	stamp, err := claimedStamp(b)
	if err != nil {
		return fmt.Errorf("split %w", err)
	}
	firstName, err := s.writeFile(first, stamp, "")
	if err != nil {
		return err
	}
	if _, err := s.writeFile(second, stamp+1, ""); err != nil {
		os.Remove(filepath.Join(s.dir, firstName))
		return err
	}
	s.remove(b)
	s.recount()
	s.unclaimed = nil // the halves go before the files listed after b
	return nil
}

// rewrite replaces the claimed file of b by a file that holds b's events
// now. The new file is created claimed, so no other process takes it, and
// its name sorts where the old one did. When the write fails, the old file
// stays claimed.
func (s *spool) rewrite(b *batch) error {
	stamp, err := claimedStamp(b)
	if err != nil {
		return fmt.Errorf("rewrite %w", err)
	}
	name, err := s.writeFile(b.events, stamp, spoolClaimMarker+randomHex(4))
	if err != nil {
		return err
	}
	os.Remove(b.spoolPath)
	b.spoolPath = filepath.Join(s.dir, name)
	b.spoolStale = false
	s.recount()
	return nil
}

// claimedStamp returns the time at the start of the name of b's claimed
// file.
func claimedStamp(b *batch) (int64, error) {
	original, _, _ := strings.Cut(filepath.Base(b.spoolPath), spoolClaimMarker)
	prefix, _, _ := strings.Cut(original, "-")
	stamp, err := strconv.ParseInt(prefix, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("spool file %q: its name does not start with a time", original)
	}
	return stamp, nil
}

// listBounded lists the spool as list does, after dropping the oldest
// unclaimed files while it holds more than maxEvents events or maxBytes
// bytes, and stores the count in Stats.Spooled. Every listing that leads
// to sending or showing spooled events goes through it, because other
// processes, or files left from before, can fill the spool without the
// writes of this client.
func (s *spool) listBounded() ([]spoolFile, error) {
	s.countMu.Lock()
	files, err := s.list()
	within := err == nil && s.withinBounds(totals(files))
	if within {
		s.count(files)
	}
	s.countMu.Unlock()
	if err != nil || within {
		return files, err
	}

	s.dropOldest(files)
	s.countMu.Lock()
	defer s.countMu.Unlock()
	files, err = s.list()
	if err == nil {
		s.count(files)
	}
	return files, err
}

// withinBounds reports whether events and size bytes are at most
// maxEvents and maxBytes.
func (s *spool) withinBounds(events, size int64) bool {
	return events <= int64(s.maxEvents) && size <= s.maxBytes
}

// totals returns the sums of the events and bytes of files.
func totals(files []spoolFile) (events, size int64) {
	for _, f := range files {
		events += int64(f.events)
		size += f.bytes
	}
	return events, size
}

// dropOldest drops the corrupt files, then the oldest unclaimed of files,
// until the rest are within the bounds. It counts the events of a corrupt
// file as spool_corrupt and the others as spool_full. Corrupt files go first so that one of them cannot push out the
// real batches spooled before it.
func (s *spool) dropOldest(files []spoolFile) {
	events, size := totals(files)
	corruptFirst := slices.Clone(files)
	slices.SortStableFunc(corruptFirst, func(a, b spoolFile) int {
		switch {
		case a.corrupt == b.corrupt:
			return 0
		case a.corrupt:
			return -1
		}
		return 1
	})
	for _, f := range corruptFirst {
		if s.withinBounds(events, size) {
			break
		}
		if f.claimed {
			continue
		}
		// Claim before deleting, so a file another process is sending is
		// not counted as dropped here too.
		claimed := filepath.Join(s.dir, f.name+spoolClaimMarker+randomHex(4))
		renamed := os.Rename(filepath.Join(s.dir, f.name), claimed) == nil
		// A file that another process or goroutine claimed or dropped
		// since the listing has left the spool all the same. Counting it
		// as still there would drop newer files in its place.
		events -= int64(f.events)
		size -= f.bytes
		if !renamed {
			continue
		}
		os.Remove(claimed)
		s.stats.drop(dropReason(f, DropSpoolFull), int64(f.events))
	}
}

func (s *spool) recount() {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	if files, err := s.list(); err == nil {
		s.count(files)
	}
}

// claimNext claims the oldest unclaimed file and reads its batch. It
// returns nil when the spool is empty. The events that the file's name
// counts but that are missing or not valid JSON are dropped as
// DropSpoolCorrupt. When the file contains other lines than the batch, the
// batch is marked spoolStale and must be written back (rewrite) before its
// file is released, or a later claim would count those drops again.
func (s *spool) claimNext() (*batch, error) {
	return s.claimNextWithin(0, 0)
}

// claimNextWithin claims the next file as claimNext does, but when
// maxEvents is above 0 it claims the file only if its name counts at most
// maxEvents events and its size is at most maxBytes bytes. Otherwise it
// returns nil and leaves the file for the next claim, so that files are
// claimed oldest first.
//
// It takes the files from one listing until that listing is used up, and
// calls listBounded at most once per call. That lists the folder once, or
// twice when the spool is over its bounds and listBounded drops files. A
// file that another process claimed or deleted since the listing fails to
// rename and is skipped.
func (s *spool) claimNextWithin(maxEvents int, maxBytes int64) (*batch, error) {
	listed := false
	for {
		if len(s.unclaimed) == 0 {
			if listed {
				return nil, nil
			}
			listed = true
			files, err := s.listBounded()
			if err != nil {
				return nil, err
			}
			s.unclaimed = slices.DeleteFunc(files, func(f spoolFile) bool { return f.claimed })
			if len(s.unclaimed) == 0 {
				return nil, nil
			}
		}
		f := s.unclaimed[0]
		if maxEvents > 0 && (f.events > maxEvents || f.bytes > maxBytes) {
			return nil, nil
		}
		s.unclaimed = s.unclaimed[1:]
		if b := s.claim(f); b != nil {
			return b, nil
		}
	}
}

// claim claims and reads the file f of a listing, as claimNext describes.
// It returns nil when another process claimed f first, or when f contained
// no event to send, which claim then deletes.
func (s *spool) claim(f spoolFile) *batch {
	claimed := filepath.Join(s.dir, f.name+spoolClaimMarker+randomHex(4))
	if err := os.Rename(filepath.Join(s.dir, f.name), claimed); err != nil {
		return nil // another process claimed it first
	}
	if f.corrupt {
		s.removeCounted(claimed, int64(f.events))
		s.stats.drop(DropSpoolCorrupt, int64(f.events))
		return nil
	}
	now := time.Now()
	os.Chtimes(claimed, now, now)
	b, err := readSpoolFile(claimed, f.events, s.maxBytes)
	if err != nil {
		s.removeCounted(claimed, int64(f.events))
		s.stats.drop(DropSpoolCorrupt, int64(f.events))
		return nil
	}
	// Stats.Spooled counted the events in the name, so the drops are
	// counted from the name too. Lines after the name's count were never
	// counted, and are neither sent nor dropped.
	s.stats.drop(DropSpoolCorrupt, int64(f.events-len(b.events)))
	if len(b.events) == 0 {
		s.removeCounted(claimed, int64(f.events))
		return nil
	}
	b.spoolStale = b.lines != f.events || len(b.events) != f.events
	return b
}

// readSpoolFile reads the batch of the file at path: its first want
// non-empty lines, without those that are not valid JSON. A file larger
// than maxBytes, the spool's whole bound, is rejected after reading
// maxBytes+1 bytes of it, so a corrupt file cannot fill memory.
func readSpoolFile(path string, want int, maxBytes int64) (*batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("spool file %s is larger than Spool.MaxBytes (%d bytes)", path, maxBytes)
	}
	b := &batch{spoolPath: path}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		b.lines++
		if b.lines > want || !json.Valid(line) {
			continue
		}
		b.events = append(b.events, line)
		b.bytes += len(line)
	}
	return b, nil
}

// release returns the claimed files of b to the spool for a later
// attempt. A file that cannot be renamed back is deleted and its events
// are dropped as DropSpoolCorrupt. The next claim lists the folder again,
// so that it starts with the released files.
func (s *spool) release(b *batch) {
	s.unclaimed = nil
	for _, path := range b.spoolPaths() {
		original, _, _ := strings.Cut(path, spoolClaimMarker)
		if err := os.Rename(path, original); err != nil {
			events := nameCount(path)
			s.removeCounted(path, events)
			s.stats.drop(DropSpoolCorrupt, events)
		}
	}
}

// remove deletes the claimed files of a batch that was sent or dropped.
func (s *spool) remove(b *batch) {
	for _, path := range b.spoolPaths() {
		s.removeCounted(path, nameCount(path))
	}
}

// removeCounted deletes the file at path and takes the events its name
// counts off Stats.Spooled, without listing the folder. The count stored
// by the last listing includes the file, because every claimed file was
// listed or, after rewrite and split, recounted. countMu keeps a listing
// from storing a count that includes the file after the subtraction.
func (s *spool) removeCounted(path string, events int64) {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	if os.Remove(path) == nil {
		s.stats.spooled.Add(-events)
	}
}

// nameCount returns the events that the name of the spool file at path
// counts, or 0 for a name that is not a spool file's.
func nameCount(path string) int64 {
	f, ok := parseSpoolName(filepath.Base(path))
	if !ok {
		return 0
	}
	return int64(f.events)
}

// recoverStale releases claims left by processes that crashed while
// sending.
func (s *spool) recoverStale() {
	files, err := s.list()
	if err != nil {
		return
	}
	for _, f := range files {
		if f.claimed && time.Since(f.modTime) > spoolStaleClaim {
			original, _, _ := strings.Cut(f.name, spoolClaimMarker)
			os.Rename(filepath.Join(s.dir, f.name), filepath.Join(s.dir, original))
		}
	}
	s.unclaimed = nil // the released files go before those listed earlier
	s.removeStaleTemps()
	s.recount()
}

// removeStaleTemps deletes the temporary files that processes killed while
// writing a spool file left behind. Writing one takes far less than
// spoolStaleClaim, so no process still writes an older one.
func (s *spool) removeStaleTemps() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), spoolTempPrefix) {
			continue
		}
		info, err := e.Info()
		if err == nil && time.Since(info.ModTime()) > spoolStaleClaim {
			os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}

// purge deletes every unclaimed file and every stale claim, counts their
// events as dropped for reason, a corrupt file as one DropSpoolCorrupt, and
// returns how many were dropped for reason. Files that
// another process is sending are left to it. A stale claim was left by a
// process that crashed while sending, and recoverStale would otherwise
// return it to the spool. Stale temporary files go too, uncounted.
func (s *spool) purge(reason string) int64 {
	files, err := s.list()
	if err != nil {
		return 0
	}
	s.removeStaleTemps()
	var n int64
	for _, f := range files {
		stale := f.claimed && time.Since(f.modTime) > spoolStaleClaim
		if (!f.claimed || stale) && os.Remove(filepath.Join(s.dir, f.name)) == nil {
			s.stats.drop(dropReason(f, reason), int64(f.events))
			if !f.corrupt {
				n += int64(f.events)
			}
		}
	}
	s.recount()
	return n
}

// dropReason returns reason, or DropSpoolCorrupt for a corrupt file.
func dropReason(f spoolFile, reason string) string {
	if f.corrupt {
		return DropSpoolCorrupt
	}
	return reason
}

// syncDir flushes a directory's entries to disk, so a rename survives a
// crash. Windows cannot open directories for syncing; the error is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
