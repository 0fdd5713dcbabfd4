package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
)

// repairLog is --repair: if the native log refuses to open for corruption,
// log.Repair moves everything from the first bad record on into
// <dataDir>/repair-<UTC time>/ and cuts the log there. It says loudly what
// was cut. Other engines refuse --repair.
func repairLog(cfg Config, logger *slog.Logger) error {
	if cfg.Engine != "native" {
		return cli.Exit(fmt.Sprintf("--repair works on the native engine's log only; the %s engine checks and repairs its own files (start without --repair)", cfg.Engine), exitConfig)
	}
	dir := filepath.Join(cfg.DataLogDir, engine.Subdir("native"))
	if _, err := vfs.Default.Stat(dir); vfs.IsNotExist(err) {
		logger.Info("--repair: no log yet, nothing to repair", "dir", dir)
		return nil
	}
	aside := filepath.Join(cfg.DataDir, "repair-"+time.Now().UTC().Format("20060102T150405Z"))
	rep, err := log.Repair(vfs.Default, dir, aside)
	if err != nil {
		return cli.Exit(fmt.Sprintf("--repair: %v", err), exitStorage)
	}
	if !rep.Repaired {
		logger.Info("--repair: the log has no corruption; nothing cut", "dir", dir)
		return nil
	}
	logger.Error("--repair CUT THE LOG: records after the kept zxid are gone from the server; the cut bytes are kept aside",
		"segment", rep.Segment, "offset", rep.Offset, "reason", rep.Corruption.Reason,
		"kept_through_zxid", rep.KeptZxid.String(),
		"lost_zxids", fmt.Sprintf("[%v, %v] (%d records recognized; more may have been in the damaged bytes)", rep.LostFirst, rep.LostLast, rep.LostRecords),
		"cut_bytes", rep.CutBytes, "removed_segments", rep.Removed, "aside", rep.AsideDir)
	return nil
}
