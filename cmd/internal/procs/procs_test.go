package procs

import "testing"

func TestOnePOnASmallMachine(t *testing.T) {
	for def, want := range map[int]int{1: 1, 2: 1, 3: 3, 4: 4, 16: 16} {
		if got := For(def); got != want {
			t.Errorf("For(%d) = %d, want %d", def, got, want)
		}
	}
}
