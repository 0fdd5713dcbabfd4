package launch

import (
	"os"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS("Name:\tzabd\nVmPeak:\t  900 kB\nVmRSS:\t  523456 kB\nRssAnon:\t 1 kB\n")
	if err != nil || got != 523456<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 523456<<10)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tlots kB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("parseVmRSS(%q) succeeded", bad)
		}
	}
	if rss, err := ProcessRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("ProcessRSS(self) = %d, %v", rss, err)
	}
}
