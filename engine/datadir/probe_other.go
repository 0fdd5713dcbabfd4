//go:build !linux

package datadir

// probeProcess cannot tell without /proc: Acquire then waits out
// Options.WaitForExiting before refusing a held dir.
func probeProcess(int) holderState { return holderUnknown }
