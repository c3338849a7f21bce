package dashboard

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// format is the encoding of an API response, chosen with the format
// parameter.
type format string

const (
	formatJSON    format = "json"
	formatCSV     format = "csv"
	formatParquet format = "parquet"
)

// parquetContentType is the media type IANA registered for Parquet files.
const parquetContentType = "application/vnd.apache.parquet"

// writeReleased writes r in f with status 200. JSON and CSV are built in
// memory first, so an encoding error cannot leave half a body behind a 200.
func writeReleased(w http.ResponseWriter, r *http.Request, rel released, f format, filename string) error {
	switch f {
	case formatCSV:
		body, err := encodeCSV(rel)
		if err != nil {
			return err
		}
		setDownload(w, "text/csv; charset=utf-8", filename+".csv")
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(body)
		return err
	case formatParquet:
		return writeParquet(r.Context(), w, rel, filename+".parquet")
	}

	var body any = rowsBody{K: rel.k, Rows: rowObjects(rel)}
	if rel.shape != nil {
		body = rel.shape(rel)
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func setDownload(w http.ResponseWriter, contentType, filename string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
}

// rowsBody is the default JSON body of a table route.
type rowsBody struct {
	K    int         `json:"k_anonymity"`
	Rows []rowObject `json:"rows"`
}

// rowObject is one row as a JSON object whose keys keep the column order.
// A suppressed row has its dimensions and "suppressed": true, and no
// measures.
type rowObject struct {
	columns    []column
	values     []any
	suppressed bool
}

func rowObjects(rel released) []rowObject {
	objects := make([]rowObject, len(rel.rows))
	for i, row := range rel.rows {
		objects[i] = rowObject{columns: rel.columns, values: row, suppressed: rel.suppressed[i]}
	}
	return objects
}

// MarshalJSON writes the row's columns in order, leaving out the measures
// of a suppressed row.
func (o rowObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name string, value any) error {
		data, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("encode column %q: %w", name, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(data)
		return nil
	}
	for i, c := range o.columns {
		if c.measure && o.suppressed {
			continue
		}
		if err := field(c.name, o.values[i]); err != nil {
			return nil, err
		}
	}
	if o.suppressed {
		if err := field("suppressed", true); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeCSV writes a header line with the column names and "suppressed",
// then one line per row. A suppressed row has empty measures.
func encodeCSV(rel released) ([]byte, error) {
	var b bytes.Buffer
	writer := csv.NewWriter(&b)
	header := make([]string, 0, len(rel.columns)+1)
	for _, c := range rel.columns {
		header = append(header, c.name)
	}
	writer.Write(append(header, "suppressed"))

	record := make([]string, len(rel.columns)+1)
	for i, row := range rel.rows {
		for j, value := range row {
			record[j] = csvValue(value)
		}
		record[len(rel.columns)] = strconv.FormatBool(rel.suppressed[i])
		writer.Write(record)
	}
	writer.Flush()
	if err := writer.Error(); err != nil {
		return nil, fmt.Errorf("encode CSV: %w", err)
	}
	return b.Bytes(), nil
}

func csvValue(value any) string {
	switch v := value.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		// Floats use the JSON format's notation, so both formats write 2^20
		// as 1048576 rather than 1.048576e+06. NaN and the infinities, which
		// JSON cannot encode, keep strconv's notation.
		if encoded, err := json.Marshal(v); err == nil {
			return string(encoded)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(value)
}
