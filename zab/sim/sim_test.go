package sim

import (
	"flag"
	"testing"
)

var (
	seeds = flag.Int("seeds", 500, "how many seeds each configuration runs")
	seed  = flag.Uint64("seed", 0, "run only this seed, with a trace (-v)")
)

type config struct {
	name              string
	voters, observers int
	faults            bool
	async             bool
}

var configs = []config{
	{"3", 3, 0, true, false},
	{"5", 5, 0, true, false},
	{"3+1obs", 3, 1, true, false},
	{"3async", 3, 0, true, true},
	{"5async", 5, 0, true, true},
	{"3+1obs-async", 3, 1, true, true},
}

func TestSeeds(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			if *seed != 0 {
				res, err := Run(Options{Seed: *seed, Voters: c.voters, Observers: c.observers, Faults: c.faults, AsyncAppends: c.async, Trace: func(s string) { t.Log(s) }})
				t.Logf("%+v", res)
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var total Result
			for s := 1; s <= *seeds; s++ {
				res, err := Run(Options{Seed: uint64(s), Voters: c.voters, Observers: c.observers, Faults: c.faults, AsyncAppends: c.async})
				if err != nil {
					t.Fatalf("%v\nreplay: go test ./zab/sim -run 'TestSeeds/%s$' -seed %d -v", err, c.name, s)
				}
				total.Acked += res.Acked
				total.Crashes += res.Crashes
				total.Elections += res.Elections
				total.Syncs += res.Syncs
				total.Committed += res.Committed
			}
			t.Logf("%d seeds: %+v", *seeds, total)
		})
	}
}
