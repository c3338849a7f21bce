package catalog

import "testing"

func TestClassSummariesCoverEveryClass(t *testing.T) {
	seen := map[Class]bool{}
	for _, s := range classSummaries {
		if !s.class.Valid() {
			t.Errorf("classSummaries lists unknown class %q", s.class)
		}
		if seen[s.class] {
			t.Errorf("classSummaries lists class %q twice", s.class)
		}
		seen[s.class] = true
	}
	for class := range classes {
		if !seen[class] {
			t.Errorf("classSummaries has no summary of class %q: add one for the Markdown page", class)
		}
	}
}
