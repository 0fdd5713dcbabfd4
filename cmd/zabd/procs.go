package main

import (
	"log/slog"

	"zabd/cmd/internal/procs"
)

// serveProcs sets GOMAXPROCS for serving (package procs: one P on a
// machine of two CPUs or fewer), unless the environment set it. It runs
// once the tree is rebuilt: recovery keeps Go's default, since the
// rebuild's collector works beside it on the second P (1,000,000 znodes
// here: 1.0-1.4 s against 1.4-1.7 s with one P).
func serveProcs(logger *slog.Logger) {
	if now, def, set := procs.Apply(); set {
		logger.Info("serving with fewer Ps than Go's default on a small machine (GOMAXPROCS in the environment chooses)",
			"gomaxprocs", now, "default", def)
	}
}
