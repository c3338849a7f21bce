package dashboard

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReleaseSuppressesSmallRows(t *testing.T) {
	source := table{
		name:    "test",
		columns: []column{dimension("day", textColumn), measure("events", intColumn), measure("installs", intColumn)},
	}
	source.addRow(0, "2024-05-01", int64(0), int64(0))
	source.addRow(1, "2024-05-02", int64(3), int64(1))
	source.addRow(4, "2024-05-03", int64(9), int64(4))
	source.addRow(5, "2024-05-04", int64(12), int64(5))
	source.addRow(40, "2024-05-05", int64(80), int64(40))

	got := kAnonymity{k: 5}.release(source)
	wantRows := [][]any{
		{"2024-05-01", nil, nil},
		{"2024-05-02", nil, nil},
		{"2024-05-03", nil, nil},
		{"2024-05-04", int64(12), int64(5)},
		{"2024-05-05", int64(80), int64(40)},
	}
	if d := cmp.Diff(wantRows, got.rows); d != "" {
		t.Errorf("released rows with k = 5 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]bool{true, true, true, false, false}, got.suppressed); d != "" {
		t.Errorf("suppressed with k = 5 (-want +got):\n%s", d)
	}
	if source.rows[1][1] != int64(3) {
		t.Errorf("release changed the source table: row 1 events = %v, want 3", source.rows[1][1])
	}

	open := kAnonymity{k: 1}.release(source)
	if d := cmp.Diff(source.rows, open.rows); d != "" {
		t.Errorf("released rows with k = 1 (-want +got):\n%s", d)
	}
	for i, suppressed := range open.suppressed {
		if suppressed {
			t.Errorf("row %d suppressed with k = 1", i)
		}
	}
}

func TestRawEventsOnlyWithoutKAnonymity(t *testing.T) {
	for k, want := range map[int]bool{1: true, 2: false, 5: false} {
		if got := (kAnonymity{k: k}).allowsRawEvents(); got != want {
			t.Errorf("allowsRawEvents with k = %d: %v, want %v", k, got, want)
		}
	}
}
