package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

func TestQueryValidate(t *testing.T) {
	steps := func(n int) []store.FunnelStep { return make([]store.FunnelStep, n) }
	tests := []struct {
		name    string
		err     error
		wantErr string // empty: valid
	}{
		{"trend with two breakdowns", store.TrendQuery{Breakdown: []string{"a", "b"}}.Validate(), ""},
		{"trend with three breakdowns", store.TrendQuery{Breakdown: []string{"a", "b", "c"}}.Validate(), "3 breakdown properties: use at most 2"},
		{"trend with zero interval", store.TrendQuery{}.Validate(), ""},
		{"trend with unknown interval", store.TrendQuery{Interval: "hour"}.Validate(), `invalid interval "hour"`},
		{"active windows 1 and 366", store.ActiveQuery{Windows: []int{1, 366}}.Validate(), ""},
		{"active window 0", store.ActiveQuery{Windows: []int{7, 0}}.Validate(), "invalid window 0: use 1 to 366 days"},
		{"active window 367", store.ActiveQuery{Windows: []int{367}}.Validate(), "invalid window 367"},
		{"funnel of 2 steps", store.FunnelQuery{Steps: steps(2), Window: time.Hour}.Validate(), ""},
		{"funnel of 1 step", store.FunnelQuery{Steps: steps(1), Window: time.Hour}.Validate(), "1 step: use 2 to 10"},
		{"funnel of 11 steps", store.FunnelQuery{Steps: steps(11), Window: time.Hour}.Validate(), "11 steps"},
		{"funnel without window", store.FunnelQuery{Steps: steps(2)}.Validate(), "invalid window 0s"},
		{"retention of 0 weeks", store.RetentionQuery{}.Validate(), ""},
		{"retention of -1 weeks", store.RetentionQuery{Weeks: -1}.Validate(), "invalid weeks -1: use 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.wantErr == "" && tt.err != nil:
				t.Errorf("Validate() = %v, want nil", tt.err)
			case tt.wantErr != "" && tt.err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(tt.err.Error(), tt.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", tt.err, tt.wantErr)
			}
		})
	}
}
