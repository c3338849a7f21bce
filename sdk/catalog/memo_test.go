package catalog

import (
	"math"
	"reflect"
	"testing"
)

type memoEvent struct {
	Model   string `json:"model" candor:"identifier"`
	Browser string `json:"browser" candor:"user_agent,optional"`
}

func (memoEvent) EventName() string { return "memo_event" }

func TestNormalizeMemoKeepsResults(t *testing.T) {
	c := New("memo")
	c.MustRegister(memoEvent{}, "An event for the memo tests.")
	for _, tt := range []struct {
		props map[string]any
		want  map[string]any
		drops []Violation
	}{
		{
			props: map[string]any{"model": "openai/gpt-5", "browser": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "version": "1.4.2"},
			want:  map[string]any{"model": "openai/gpt-5", "browser": "Firefox 133 (Linux)", "version": "1.4.2"},
		},
		{
			props: map[string]any{"model": "/home/alice/model", "version": "1.4.2"},
		},
		{
			props: map[string]any{"model": "openai/gpt-5", "version": "sk-0123456789abcdef0123"},
			want:  map[string]any{"model": "openai/gpt-5"},
			drops: []Violation{{Event: "memo_event", Property: "version", Reason: ReasonInvalidVersion}},
		},
	} {
		for round := range 3 { // the first round fills the memos, the others read them
			got, drops, err := c.Normalize("memo_event", tt.props)
			if tt.want == nil {
				if err == nil {
					t.Errorf("round %d: Normalize(%v) passed, want a violation", round, tt.props)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d: Normalize(%v): %v", round, tt.props, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("round %d: Normalize(%v) = %v, want %v", round, tt.props, got, tt.want)
			}
			if !reflect.DeepEqual(drops, tt.drops) {
				t.Errorf("round %d: Normalize(%v) dropped %v, want %v", round, tt.props, drops, tt.drops)
			}
		}
	}
}

func TestMemoKeepsOnlyPassedValues(t *testing.T) {
	p := &Property{Name: "model", Class: Identifier, memo: &valueMemo{class: Identifier}}
	if _, r := p.normalize("ghp_0123456789abcdefABCDEF"); r == "" {
		t.Fatal("a GitHub token passed as an identifier")
	}
	if _, ok := p.memo.lookup("ghp_0123456789abcdefABCDEF"); ok {
		t.Error("the memo kept a rejected value")
	}
	if _, r := p.normalize("openai/gpt-5"); r != "" {
		t.Fatalf("openai/gpt-5 rejected: %s", r)
	}
	if _, ok := p.memo.lookup("openai/gpt-5"); !ok {
		t.Error("the memo lacks a value that passed")
	}
}

func TestMemoServesOnlyItsClass(t *testing.T) {
	p := &Property{Name: "model", Class: Identifier, memo: &valueMemo{class: Identifier}}
	if _, r := p.normalize("release-candidate"); r != "" {
		t.Fatalf("release-candidate rejected as an identifier: %s", r)
	}
	p.Class = Version
	if _, r := p.normalize("release-candidate"); r != ReasonInvalidVersion {
		t.Errorf("release-candidate as a version: reason %q, want %q", r, ReasonInvalidVersion)
	}
}

func TestMemoEvictsOldestEntry(t *testing.T) {
	m := &valueMemo{class: Identifier}
	for i := range recentEntries + 1 {
		s := string(rune('a' + i))
		m.remember(s, s)
	}
	if _, ok := m.lookup("a"); ok {
		t.Error("the first of 9 values is still remembered, want it evicted")
	}
	if _, ok := m.lookup("i"); !ok {
		t.Error("the last value is not remembered")
	}
}

func TestNormalizeKeepsUnchangedValuesBoxed(t *testing.T) {
	p := &Property{Name: "n", Class: Base2}
	for _, v := range []any{512.0, 350.0, 0.0, math.Copysign(0, -1)} {
		got, r := p.normalize(v)
		if r != "" {
			t.Fatalf("normalize(%v): %s", v, r)
		}
		want, _ := RoundBase2(v.(float64))
		if f := got.(float64); f != want || (f == 0 && 1/f < 0) {
			t.Errorf("normalize(%v) = %v, want %v", v, got, want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		p.normalize(any(512.0))
	})
	if allocs != 0 {
		t.Errorf("normalize of an unchanged number allocates %v times, want 0", allocs)
	}
}
