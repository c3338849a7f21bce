package collector

import (
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// This file implements decompressFromBase64 of lz-string, the JavaScript
// library that older posthog-js releases used for "lz64" payloads.
//
// The format is LZW over UTF-16 code units. Codes start 2 bits wide, and the
// width grows by one bit whenever the dictionary fills the current width.
// The bits of each code are written least significant first and packed into
// base64 characters most significant first. Code 0 introduces an 8-bit
// literal, code 1 a 16-bit literal and code 2 ends the stream. Every higher
// code names a dictionary entry. Each code after the first adds an entry:
// the previous entry followed by the first unit of the current one.

var (
	errLZTooLarge  = errors.New("output over the size limit")
	errLZTruncated = errors.New("input ends before the end marker")
	errLZEmpty     = errors.New("stream contains no data")
	errLZUTF16     = errors.New("output is not valid UTF-16")
	errLZBudget    = errors.New("memory budget exhausted")
)

// lzBase64Values maps each byte of lz-string's base64 alphabet to its 6-bit
// value. The '=' padding reads as zero bits; every other byte is -1.
var lzBase64Values = func() [256]int8 {
	var values [256]int8
	for i := range values {
		values[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		values[alphabet[i]] = int8(i)
	}
	values['='] = 0
	return values
}()

// decompressLZBase64 decodes lz-string's base64 output into UTF-8 of at
// most maxOut bytes. reserve must grant every allocation that grows with
// the input or the output before it is made. When reserve declines, the
// error is errLZBudget.
//
// It takes two passes over the input. The first builds the dictionary and
// adds up the output's UTF-8 size without writing the output, and stops
// with errLZTooLarge once that size passes maxOut. The second writes the
// output into a buffer of exactly that size.
func decompressLZBase64(input []byte, maxOut int64, reserve func(int64) bool) ([]byte, error) {
	d := lzDecoder{input: input, reserve: reserve}

	var size int64
	var longest uint32 // UTF-8 bytes of the longest entry written
	err := d.walk(true, func(code int) error {
		entrySize := d.entry(code).size
		size += int64(entrySize)
		longest = max(longest, entrySize)
		if size > maxOut {
			return errLZTooLarge
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// An entry has at least one byte of UTF-8 per unit, so longest units
	// of scratch are enough for any entry.
	if !reserve(size + lzUnitBytes*int64(longest)) {
		return nil, errLZBudget
	}
	d.out.buf = make([]byte, 0, size)
	d.scratch = make([]uint16, 0, longest)
	if err := d.walk(false, d.write); err != nil {
		return nil, err
	}
	if d.out.high != 0 {
		return nil, errLZUTF16
	}
	return d.out.buf, nil
}

// lzUnitBytes is the size of a UTF-16 code unit in memory.
const lzUnitBytes = 2

// lzEntry is a dictionary entry: entry prefix followed by the unit last.
// It stores its first unit and its UTF-8 size too, so that the first pass
// never walks the chain of prefixes.
type lzEntry struct {
	prefix int32 // -1 for an entry of one unit
	size   uint32
	last   uint16
	first  uint16
}

// lzEntryBytes is the size of an lzEntry in memory.
const lzEntryBytes = int64(unsafe.Sizeof(lzEntry{}))

// maxLZEntries bounds the dictionary. Entry i has at most i+1 units of at
// most 3 bytes of UTF-8 each, so lzEntry.size cannot overflow.
const maxLZEntries = 1 << 30

// lzDecoder holds the state of decompressLZBase64.
type lzDecoder struct {
	input   []byte
	reserve func(int64) bool
	entries []lzEntry // codes 0 to 2 are control codes and have no entry
	scratch []uint16  // units of the entry being written, last unit first
	out     utf8Writer
}

// walk reads the code stream and calls visit with the dictionary entry
// that each code outputs. With build set it adds the entries to the
// dictionary, so that each one exists when visit gets it. Without, the
// dictionary must be complete from an earlier walk over the same input.
func (d *lzDecoder) walk(build bool, visit func(code int) error) error {
	r := lzBitReader{input: d.input}
	defined := 3 // codes defined so far, with the three control codes
	add := func(prefix int, last uint16) error {
		defined++
		if !build {
			return nil
		}
		return d.add(prefix, last)
	}

	kind, err := r.read(2)
	if err != nil {
		return err
	}
	unit, err := readLZLiteral(&r, kind)
	if err != nil {
		return err
	}
	if err := add(-1, unit); err != nil {
		return err
	}
	previous := defined - 1
	if err := visit(previous); err != nil {
		return err
	}

	width, enlargeIn := 3, 4
	for {
		code, err := r.read(width)
		if err != nil {
			return err
		}
		if code == 2 {
			return nil
		}
		if code < 2 {
			unit, err := readLZLiteral(&r, code)
			if err != nil {
				return err
			}
			if err := add(-1, unit); err != nil {
				return err
			}
			code = defined - 1
			enlargeIn--
		}
		if enlargeIn == 0 {
			enlargeIn, width = 1<<width, width+1
		}

		// The new entry is the previous one followed by the first unit of
		// this one. A code one past the dictionary is that new entry
		// itself, whose first unit is the previous entry's.
		if code > defined {
			return fmt.Errorf("code %d is not in the dictionary of %d entries", code, defined)
		}
		first := code
		if code == defined {
			first = previous
		}
		if err := add(previous, d.entry(first).first); err != nil {
			return err
		}
		if err := visit(code); err != nil {
			return err
		}

		previous = code
		enlargeIn--
		if enlargeIn == 0 {
			enlargeIn, width = 1<<width, width+1
		}
	}
}

// add appends an entry after prefix, or a one-unit entry when prefix is -1.
// The dictionary grows by doubling, and reserve must grant each growth.
func (d *lzDecoder) add(prefix int, last uint16) error {
	if len(d.entries) == cap(d.entries) {
		if len(d.entries) >= maxLZEntries {
			return fmt.Errorf("dictionary is over %d entries", maxLZEntries)
		}
		grown := min(max(2*cap(d.entries), 256), maxLZEntries)
		if !d.reserve(int64(grown-cap(d.entries)) * lzEntryBytes) {
			return errLZBudget
		}
		d.entries = append(make([]lzEntry, 0, grown), d.entries...)
	}

	e := lzEntry{prefix: -1, size: utf8Size(last), last: last, first: last}
	if prefix >= 0 {
		p := d.entry(prefix)
		e.prefix = int32(prefix)
		e.size += p.size
		e.first = p.first
	}
	d.entries = append(d.entries, e)
	return nil
}

// entry returns the dictionary entry of a code above 2.
func (d *lzDecoder) entry(code int) *lzEntry { return &d.entries[code-3] }

// write appends the units of an entry to the output.
func (d *lzDecoder) write(code int) error {
	d.scratch = d.scratch[:0]
	for i := code; i >= 0; i = int(d.entry(i).prefix) {
		d.scratch = append(d.scratch, d.entry(i).last)
	}
	for i := len(d.scratch) - 1; i >= 0; i-- {
		if err := d.out.unit(d.scratch[i]); err != nil {
			return err
		}
	}
	return nil
}

// utf8Size returns the bytes that unit u takes in UTF-8. A surrogate takes
// 2, half of the 4 bytes of the pair it belongs to.
func utf8Size(u uint16) uint32 {
	switch {
	case u < 0x80:
		return 1
	case u < 0x800, u >= 0xD800 && u <= 0xDFFF:
		return 2
	}
	return 3
}

// readLZLiteral reads the unit that follows code 0 (8 bits) or 1 (16 bits).
func readLZLiteral(r *lzBitReader, kind int) (uint16, error) {
	switch kind {
	case 0:
		v, err := r.read(8)
		return uint16(v), err
	case 1:
		v, err := r.read(16)
		return uint16(v), err
	case 2:
		return 0, errLZEmpty
	}
	return 0, fmt.Errorf("code %d cannot start a stream", kind)
}

// lzBitReader reads codes from lz-string's base64 text.
type lzBitReader struct {
	input []byte
	index int // next byte of input
	value int // 6-bit value of the current character
	mask  int // next bit of value to read; 0 when value is used up
}

// read returns the next n bits, the first bit read being the least
// significant.
func (r *lzBitReader) read(n int) (int, error) {
	bits := 0
	for i := 0; i < n; i++ {
		if r.mask == 0 {
			if r.index >= len(r.input) {
				return 0, errLZTruncated
			}
			c := r.input[r.index]
			v := lzBase64Values[c]
			if v < 0 {
				return 0, fmt.Errorf("byte %q at offset %d is not in the base64 alphabet", c, r.index)
			}
			r.value, r.mask = int(v), 32
			r.index++
		}
		if r.value&r.mask != 0 {
			bits |= 1 << i
		}
		r.mask >>= 1
	}
	return bits, nil
}

// utf8Writer converts UTF-16 code units to UTF-8, pairing surrogates that
// may arrive in different entries.
type utf8Writer struct {
	buf  []byte
	high rune // pending high surrogate, or 0
}

func (w *utf8Writer) unit(u uint16) error {
	r := rune(u)
	isHigh := r >= 0xD800 && r <= 0xDBFF
	isLow := r >= 0xDC00 && r <= 0xDFFF
	switch {
	case w.high != 0 && isLow:
		r = (w.high-0xD800)<<10 + (r - 0xDC00) + 0x10000
		w.high = 0
	case w.high != 0 || isLow:
		return errLZUTF16
	case isHigh:
		w.high = r
		return nil
	}
	w.buf = utf8.AppendRune(w.buf, r)
	return nil
}
