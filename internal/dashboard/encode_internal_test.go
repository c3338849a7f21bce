package dashboard

import (
	"encoding/json"
	"testing"
)

func TestCSVValueFloatMatchesJSON(t *testing.T) {
	// A base2 histogram value such as 2^20 bytes, a conversion ratio and
	// values at the edges where encoding/json switches to an exponent.
	values := []float64{0, 0.5, 0.7, 0.0009765625, 0.00001, 1e-7, 1 << 20, 562949953421312, 1 << 53, 1e20, 1e21, -4096}
	for _, value := range values {
		want, err := json.Marshal(value)
		if err != nil {
			t.Fatalf("marshal %v: %v", value, err)
		}
		if got := csvValue(value); got != string(want) {
			t.Errorf("csvValue(%v) = %q, want %q as in the JSON format", value, got, want)
		}
	}
}
