package collector

import (
	"encoding/json"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

func TestCaptureResponseMatchesMarshal(t *testing.T) {
	two := 2
	for _, resp := range []captureResponse{
		{Status: "Ok"},
		{Status: "Ok", Accepted: 3, Duplicates: &two, Dropped: map[catalog.Reason]int{}, DroppedProperties: map[catalog.Reason]int{}},
		{Status: "Ok", Accepted: 1, Dropped: map[catalog.Reason]int{"unknown_event": 2, "invalid_uuid": 1},
			DroppedProperties: map[catalog.Reason]int{"looks_like_path": 1, "a<b>&\"c\"\n\u00e9": 4}},
		{Status: "Ok", Dropped: map[catalog.Reason]int{"wrong_type": 1}, DroppedProperties: map[catalog.Reason]int{},
			Violations: map[string]int{"workspace_created frontendPlatform.userAgent wrong_type": 1, "unknown_event": 2}},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, want %s", got, want)
		}
	}
}
