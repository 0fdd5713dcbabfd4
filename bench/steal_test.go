package bench

import "testing"

func TestParseCPULine(t *testing.T) {
	for _, tc := range []struct {
		in           string
		steal, total uint64
		ok           bool
	}{
		{"cpu  776293 281 431497 1760904 66767 0 78709 35281 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 35281, 776293 + 281 + 431497 + 1760904 + 66767 + 78709 + 35281, true},
		// guest time is inside user already: not added again.
		{"cpu  10 0 10 70 0 0 0 10 99 99\n", 10, 100, true},
		{"cpu  1 2 3 4\n", 0, 0, false}, // before steal existed
		{"cpu0 1 2 3 4 5 6 7 8\n", 0, 0, false},
		{"cpu  1 2 x 4 5 6 7 8\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		steal, total, ok := parseCPULine([]byte(tc.in))
		if steal != tc.steal || total != tc.total || ok != tc.ok {
			t.Errorf("parseCPULine(%q) = %d, %d, %v; want %d, %d, %v", tc.in, steal, total, ok, tc.steal, tc.total, tc.ok)
		}
	}
}

func TestParseCPUBusy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		busy uint64
		ok   bool
	}{
		// user nice system idle iowait irq softirq steal: idle, iowait and
		// steal are not busy.
		{"cpu  100 2 30 1000 50 4 6 70 0 0\n", 142, true},
		{"cpu  1 2 3 4\n", 0, false},
		{"cpu  1 2 x 4 5 6 7 8\n", 0, false},
	} {
		busy, ok := parseCPUBusy([]byte(tc.in))
		if busy != tc.busy || ok != tc.ok {
			t.Errorf("parseCPUBusy(%q) = %d, %v; want %d, %v", tc.in, busy, ok, tc.busy, tc.ok)
		}
	}
}
