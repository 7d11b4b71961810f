package engine

import (
	"fmt"
	"testing"
	"time"
)

// TestWindowAssigner: the windows holding a time, by ascending start.
func TestWindowAssigner(t *testing.T) {
	for _, tc := range []struct {
		a    WindowAssigner
		t    int64
		want []Window
	}{
		{Tumbling(100 * time.Millisecond), 0, []Window{{0, 100}}},
		{Tumbling(100 * time.Millisecond), 99, []Window{{0, 100}}},
		{Tumbling(100 * time.Millisecond), 100, []Window{{100, 200}}},
		{Tumbling(100 * time.Millisecond), -1, []Window{{-100, 0}}},
		{Sliding(100*time.Millisecond, 50*time.Millisecond), 120, []Window{{50, 150}, {100, 200}}},
		{Sliding(100*time.Millisecond, 50*time.Millisecond), 150, []Window{{100, 200}, {150, 250}}},
		{Sliding(100*time.Millisecond, 30*time.Millisecond), 100, []Window{{30, 130}, {60, 160}, {90, 190}}},
		{Sliding(50*time.Millisecond, 100*time.Millisecond), 70, nil}, // in the gap between windows
		{Sliding(50*time.Millisecond, 100*time.Millisecond), 120, []Window{{100, 150}}},
	} {
		got := tc.a.windows(tc.t)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%v.windows(%d): got %v, want %v", tc.a, tc.t, got, tc.want)
		}
	}
}
