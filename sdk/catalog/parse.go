package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// decodeCatalog decodes the one JSON object of a catalog file into c. Its
// errors give the line and column of the fault, since encoding/json's own
// messages give none, or at most a byte offset.
func decodeCatalog(data []byte, c *Catalog) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty input: want the JSON object that MarshalIndent writes")
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	// A misspelled field, such as "optinal", would otherwise be dropped
	// without a word and change what the collector accepts.
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(c); err != nil {
		return describeDecodeError(data, err, decoder.InputOffset())
	}

	// A second catalog appended to the file, such as by two runs of
	// "candor catalog >> FILE", would otherwise be ignored.
	end := decoder.InputOffset()
	if _, err := decoder.Token(); !errors.Is(err, io.EOF) {
		next := int(end) + len(data[end:]) - len(bytes.TrimLeft(data[end:], " \t\r\n"))
		return fmt.Errorf("%s: data after the catalog: a catalog file contains one JSON object, so remove the rest",
			position(data, next))
	}
	return nil
}

// describeDecodeError adds the position of the fault to an error of
// json.Decoder.Decode. offset is the decoder's input offset after the
// error, which is where it stopped reading.
func describeDecodeError(data []byte, err error, offset int64) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: the JSON ends early: complete or replace the file", position(data, len(data)))
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("%s: %w", position(data, int(syntaxErr.Offset)-1), err)
	case errors.As(err, &typeErr):
		return fmt.Errorf("%s: field %q is a JSON %s: write %s", position(data, int(typeErr.Offset)-1),
			typeErr.Field, typeErr.Value, jsonKind(typeErr.Type))
	}
	// An unknown field's error carries no offset, and the decoder has read
	// the whole object by then, so the key is looked up in the text. A
	// name used as a key more than once, such as "max" misplaced in an
	// event, may also be a valid key elsewhere, so it gets no position.
	var field string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &field); scanErr == nil {
		if keys := keyIndexes(data, field); len(keys) == 1 {
			return fmt.Errorf("%s: unknown field %q: check its spelling against the JSON that MarshalIndent writes", position(data, keys[0]), field)
		}
		return fmt.Errorf("unknown field %q in an object that has no such field: check it against the JSON that MarshalIndent writes", field)
	}
	return fmt.Errorf("%s: %w", position(data, int(offset)-1), err)
}

// keyIndexes returns the index of each object key named name in data. It
// finds keys written without escapes, as MarshalIndent writes them.
func keyIndexes(data []byte, name string) []int {
	quoted, err := json.Marshal(name)
	if err != nil {
		return nil
	}
	var keys []int
	for start := 0; ; {
		i := bytes.Index(data[start:], quoted)
		if i < 0 {
			return keys
		}
		i += start
		rest := bytes.TrimLeft(data[i+len(quoted):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			keys = append(keys, i)
		}
		start = i + len(quoted)
	}
}

// jsonKind names the JSON value that decodes into a Go value of type t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return "a number"
}

// position returns the line and column, counted from 1, of the byte at
// index i of data.
func position(data []byte, i int) string {
	i = max(0, min(i, len(data)))
	lineStart := bytes.LastIndexByte(data[:i], '\n') + 1
	line := bytes.Count(data[:i], []byte{'\n'}) + 1
	return fmt.Sprintf("line %d, column %d", line, i-lineStart+1)
}
