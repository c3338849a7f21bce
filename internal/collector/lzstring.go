package collector

import (
	"errors"
	"fmt"
	"unicode/utf8"
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

// decompressLZBase64 decodes lz-string's base64 output into UTF-8. It fails
// with errLZTooLarge as soon as the output would pass maxOut bytes, so
// neither the output nor the dictionary walk can outgrow the limit.
func decompressLZBase64(input []byte, maxOut int64) ([]byte, error) {
	r := lzBitReader{input: input}
	d := lzDictionary{maxOut: maxOut}
	d.prefix = []int32{-1, -1, -1} // codes 0 to 2 are control codes
	d.last = []uint16{0, 0, 0}

	kind, err := r.read(2)
	if err != nil {
		return nil, err
	}
	unit, err := d.literal(&r, kind)
	if err != nil {
		return nil, err
	}
	d.add(-1, unit)
	previous := len(d.prefix) - 1
	if _, err := d.emit(previous); err != nil {
		return nil, err
	}

	width, enlargeIn := 3, 4
	for {
		code, err := r.read(width)
		if err != nil {
			return nil, err
		}
		if code == 2 {
			return d.finish()
		}
		if code < 2 {
			unit, err := d.literal(&r, code)
			if err != nil {
				return nil, err
			}
			d.add(-1, unit)
			code = len(d.prefix) - 1
			enlargeIn--
		}
		if enlargeIn == 0 {
			enlargeIn, width = 1<<width, width+1
		}

		var first uint16
		switch {
		case code < len(d.prefix):
			first, err = d.emit(code)
		case code == len(d.prefix):
			// The entry being defined: the previous entry plus its own
			// first unit.
			first, err = d.emit(previous)
			if err == nil {
				err = d.out.unit(first)
			}
		default:
			err = fmt.Errorf("code %d is not in the dictionary of %d entries", code, len(d.prefix))
		}
		if err != nil {
			return nil, err
		}

		d.add(int32(previous), first)
		previous = code
		enlargeIn--
		if enlargeIn == 0 {
			enlargeIn, width = 1<<width, width+1
		}
	}
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

// lzDictionary stores each entry as its prefix entry plus one last unit, so
// an entry costs 6 bytes whatever its length.
type lzDictionary struct {
	prefix  []int32 // index of the entry without its last unit; -1 for one unit
	last    []uint16
	scratch []uint16 // units of the entry being emitted, last unit first
	out     utf8Writer
	maxOut  int64
}

func (d *lzDictionary) add(prefix int32, last uint16) {
	d.prefix = append(d.prefix, prefix)
	d.last = append(d.last, last)
}

// literal reads the unit that follows code 0 (8 bits) or 1 (16 bits).
func (d *lzDictionary) literal(r *lzBitReader, kind int) (uint16, error) {
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

// emit writes the units of an entry to the output and returns its first
// unit.
func (d *lzDictionary) emit(code int) (uint16, error) {
	budget := d.maxOut - int64(len(d.out.buf))
	d.scratch = d.scratch[:0]
	for i := int32(code); i >= 0; i = d.prefix[i] {
		if int64(len(d.scratch)) >= budget {
			// Every unit takes at least one byte of UTF-8.
			return 0, errLZTooLarge
		}
		d.scratch = append(d.scratch, d.last[i])
	}
	for i := len(d.scratch) - 1; i >= 0; i-- {
		if err := d.out.unit(d.scratch[i]); err != nil {
			return 0, err
		}
	}
	if int64(len(d.out.buf)) > d.maxOut {
		return 0, errLZTooLarge
	}
	return d.scratch[len(d.scratch)-1], nil
}

func (d *lzDictionary) finish() ([]byte, error) {
	if d.out.high != 0 {
		return nil, errLZUTF16
	}
	if int64(len(d.out.buf)) > d.maxOut {
		return nil, errLZTooLarge
	}
	return d.out.buf, nil
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
