package telemetry

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// identity is the install ID and how it was obtained.
type identity struct {
	id string
	// created is true in the one process that created the ID file.
	created bool
	// persisted is false when the ID lives in memory only because the home
	// folder cannot be written.
	persisted bool
}

// Timing of the lock that guards replacing a corrupt ID file.
const (
	idLockWait  = 5 * time.Second  // give up waiting for another process
	idLockStale = 10 * time.Second // a lock this old was left by a crash
	idFreshFile = time.Second      // an empty file this young may still be written
)

// newUUID returns a random UUID version 4 from crypto/rand.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read does not fail on supported platforms since Go 1.24.
		panic(err)
	}
	return string(appendUUID(make([]byte, 0, 36), b))
}

// appendUUID sets the version 4 and variant bits of the random bytes b and
// appends them as a UUID in lower-case hex.
func appendUUID(dst []byte, b [16]byte) []byte {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const digits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0x0f]
		j += 2
	}
	return append(dst, out[:]...)
}

// uuidSource makes random UUIDs version 4 for event IDs from crypto/rand,
// read 4 KiB at a time so that one read serves 256 events. Its zero value
// is ready to use; it is not safe for concurrent use.
type uuidSource struct {
	buf  [4096]byte
	left int // unused bytes at the end of buf
}

// appendUUID appends a new random UUID to dst.
func (u *uuidSource) appendUUID(dst []byte) []byte {
	if u.left < 16 {
		if _, err := rand.Read(u.buf[:]); err != nil {
			panic(err) // see newUUID
		}
		u.left = len(u.buf)
	}
	used := u.buf[len(u.buf)-u.left:][:16]
	u.left -= 16
	b := [16]byte(used)
	clear(used) // no copy of an event's ID stays behind
	return appendUUID(dst, b)
}

// loadIdentity returns the install ID kept in home, creating it when there
// is none. An empty, corrupt or unreadable file is replaced. When home
// cannot be written, the ID lives in memory for this process only.
//
// Creation is safe between processes: the new ID is written to a temporary
// file and hard-linked to its final name, which fails when another process
// linked first, so every process ends with the same ID and exactly one
// gets created == true.
func loadIdentity(home string) (identity, error) {
	if home == "" {
		return identity{id: newUUID()}, errors.New("no home folder: set Config.Home")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return identity{id: newUUID()}, fmt.Errorf("create home folder: %s", errorText(err))
	}
	path := filepath.Join(home, InstallIDFile)
	for range 150 {
		id, err := readID(path)
		switch {
		case err == nil:
			return identity{id: id, persisted: true}, nil
		case errors.Is(err, fs.ErrNotExist):
			created, err := idValueFile.create(path)
			if err == nil {
				return identity{id: created, created: true, persisted: true}, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return identity{id: newUUID()}, err
			}
		case errors.Is(err, errIDBeingWritten):
			time.Sleep(20 * time.Millisecond)
		default:
			id, err := idValueFile.replace(path)
			if err != nil {
				return identity{id: newUUID()}, err
			}
			return identity{id: id, persisted: true}, nil
		}
	}
	return identity{id: newUUID()}, errors.New("read install ID: the file kept changing while it was read")
}

var (
	errIDBeingWritten = errors.New("install ID file is empty and was just created")
	errIDInvalid      = errors.New("install ID file does not hold a UUID")
	errLockBusy       = errors.New("another process is replacing the install ID")
)

// readID reads and checks the ID file.
func readID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(data))
	if catalog.IsUUID(id) {
		return strings.ToLower(id), nil
	}
	if id == "" {
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) < idFreshFile {
			return "", errIDBeingWritten
		}
	}
	return "", errIDInvalid
}

// randomValueFile is a file that holds one random value on one line, such
// as the install ID or the deletion secret.
type randomValueFile struct {
	name     string                            // the value in error messages
	pattern  string                            // os.CreateTemp pattern for the temporary file
	generate func() string                     // a new random value
	read     func(path string) (string, error) // reads and checks the file
}

var idValueFile = randomValueFile{
	name:     "install ID",
	pattern:  ".telemetry_id-*",
	generate: newUUID,
	read:     readID,
}

// create writes a new value to path, failing with fs.ErrExist when another
// process created the file first.
func (v randomValueFile) create(path string) (string, error) {
	value := v.generate()
	tmp, err := writeTemp(filepath.Dir(path), v.pattern, []byte(value+"\n"))
	if err != nil {
		return "", fmt.Errorf("write %s: %s", v.name, errorText(err))
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err == nil {
		return value, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return "", fs.ErrExist
	}
	// Some file systems have no hard links: create the file exclusively
	// instead. A reader may then see it empty for a moment, which v.read
	// reports as errIDBeingWritten.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fs.ErrExist
		}
		return "", fmt.Errorf("create %s: %s", v.name, errorText(err))
	}
	_, werr := f.WriteString(value + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return "", fmt.Errorf("write %s: %s", v.name, errorText(err))
	}
	return value, nil
}

// replace replaces a corrupt or unreadable file while holding a lock file,
// so that processes replacing it at the same time agree on one value.
func (v randomValueFile) replace(path string) (string, error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()

	if value, err := v.read(path); err == nil {
		return value, nil
	}
	value := v.generate()
	tmp, err := writeTemp(filepath.Dir(path), v.pattern, []byte(value+"\n"))
	if err != nil {
		return "", fmt.Errorf("write %s: %s", v.name, errorText(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("replace %s: %s", v.name, errorText(err))
	}
	return value, nil
}

// lockFile creates path exclusively and returns the function that removes
// it. It waits up to idLockWait for another holder and takes over a lock
// older than idLockStale.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(idLockWait)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock install ID: %s", errorText(err))
		}
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > idLockStale {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, errLockBusy
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replaceFile replaces path with data atomically, through a temporary file
// named after pattern in the same folder. Its errors name the file's base
// name and the step that failed.
func replaceFile(path, pattern string, data []byte) error {
	name := filepath.Base(path)
	tmp, err := writeTemp(filepath.Dir(path), pattern, data)
	if err != nil {
		return fmt.Errorf("write %s: %s", name, errorText(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %s", name, errorText(err))
	}
	return nil
}

// writeTemp writes data to a new file in dir with mode 0600, synced to
// disk, and returns its path.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
