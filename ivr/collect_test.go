package ivr

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Every way an answer can end, on the collector the ARI call uses.
func TestCollectEndings(t *testing.T) {
	ms := time.Millisecond
	in := Input{Max: 4, Terminator: "#", First: 150 * ms, InterDigit: 80 * ms, Total: 400 * ms}
	cases := []struct {
		name  string
		first string
		keys  []string
		gap   time.Duration // between keys
		in    Input
		want  string
		err   error
	}{
		{name: "complete at max", keys: []string{"1", "2", "3", "4", "5"}, in: in, want: "1234"},
		{name: "barge-in key counts", first: "9", keys: []string{"8", "7", "6"}, in: in, want: "9876"},
		{name: "terminator ends early", keys: []string{"4", "2", "#"}, in: in, want: "42"},
		{name: "terminator alone is an empty answer", keys: []string{"#"}, in: in, want: ""},
		{name: "no key: first-key timeout", in: in, err: ErrNoInput},
		{name: "inter-digit timeout returns what was typed", keys: []string{"1", "2"}, in: in, want: "12"},
		{name: "repeat key asks again", keys: []string{"1", "*"}, in: Input{Max: 4, Repeat: "*", First: 150 * ms, InterDigit: 80 * ms, Total: 400 * ms}, err: ErrRepeat},
		{name: "repeat key as barge-in", first: "*", in: Input{Max: 4, Repeat: "*", First: 150 * ms, InterDigit: 80 * ms, Total: 400 * ms}, err: ErrRepeat},
		{name: "slow typing stops at the total timeout", keys: []string{"1", "2", "3", "4"}, gap: 200 * ms, in: Input{Max: 4, First: time.Second, InterDigit: time.Second, Total: 700 * ms}, want: "123"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := make(chan string, 16)
			go func() {
				for _, k := range tc.keys {
					time.Sleep(tc.gap)
					keys <- k
				}
			}()
			got, err := collect(context.Background(), keys, tc.first, tc.in, tc.in.First)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("collect = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestCollectHangup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	keys := make(chan string, 1)
	keys <- "5"
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	began := time.Now()
	got, err := collect(ctx, keys, "", Input{Max: 4, First: time.Minute, InterDigit: time.Minute, Total: time.Minute}, time.Minute)
	if !errors.Is(err, ErrHangup) || got != "5" {
		t.Errorf("collect after hang-up = %q, %v; want the partial answer and ErrHangup", got, err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("hang-up noticed after %s", d)
	}
}
