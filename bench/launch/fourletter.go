package launch

import (
	"fmt"
	"io"
	stdnet "net"
	"time"
)

// maxFourLetterBytes bounds how much of a four-letter word's answer is read.
const maxFourLetterBytes = 1 << 20

// FourLetter sends a four-letter word (ruok, srvr, stat, mntr, isro, ...) to
// addr and returns everything the server writes back before closing the
// connection. The whole exchange is bounded by timeout.
func FourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("launch: four-letter word %q is not 4 bytes", cmd)
	}
	deadline := time.Now().Add(timeout)
	c, err := stdnet.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("launch: %s to %s: %w", cmd, addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return "", fmt.Errorf("launch: %s to %s: %w", cmd, addr, err)
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", fmt.Errorf("launch: %s to %s: write: %w", cmd, addr, err)
	}
	b, err := io.ReadAll(io.LimitReader(c, maxFourLetterBytes))
	if err != nil {
		return string(b), fmt.Errorf("launch: %s to %s: read: %w", cmd, addr, err)
	}
	return string(b), nil
}
