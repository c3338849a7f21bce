package dashboard

import (
	"slices"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// FuzzListRoundTrip checks that splitList reads back every list that
// joinList writes. The input contains the items separated by NUL bytes.
func FuzzListRoundTrip(f *testing.F) {
	f.Add("a,b\x00c")
	f.Add(` "x\" \\`)
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, input string) {
		items := strings.Split(input, "\x00")
		joined := joinList(items)
		got, err := splitList("platform", []string{joined})
		if err != nil {
			t.Fatalf("splitList(%q) of joinList(%q): %v", joined, items, err)
		}
		if !slices.Equal(got, items) {
			t.Errorf("splitList(joinList(%q)) = %q via %q", items, got, joined)
		}
	})
}

// FuzzStepRoundTrip checks that catalog.ParseFunnelStep reads back the
// values of every step that stepLabel writes.
func FuzzStepRoundTrip(f *testing.F) {
	f.Add("<script>alert(1)</script>", "m1")
	f.Add(`a]b=c, "d" \e`, " x ")
	f.Add("", "]")
	f.Fuzz(func(t *testing.T, first, second string) {
		step := store.FunnelStep{Event: "message_sent", Where: []store.Condition{
			{Property: "thinkingLevel", Value: first}, {Property: "model", Value: second},
		}}
		label := stepLabel(step)
		_, conditions, err := catalog.ParseFunnelStep(label)
		if err != nil {
			t.Fatalf("ParseFunnelStep of stepLabel %q: %v", label, err)
		}
		var got []string
		for _, c := range conditions {
			got = append(got, c.Property, c.Value)
		}
		want := []string{"thinkingLevel", first, "model", second}
		if !slices.Equal(got, want) {
			t.Errorf("conditions of %q = %q, want %q", label, got, want)
		}
	})
}

func TestSplitListUnquoted(t *testing.T) {
	got, err := splitList("version", []string{" 1.0 , ,2.0", `3"x`, ""})
	if err != nil {
		t.Fatalf("splitList: %v", err)
	}
	if want := []string{"1.0", "2.0", `3"x`}; !slices.Equal(got, want) {
		t.Errorf("splitList = %q, want %q", got, want)
	}
}
