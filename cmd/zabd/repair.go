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
	if err := moveSnapshotsAfter(cfg, rep.KeptZxid, rep.AsideDir, logger); err != nil {
		return cli.Exit(fmt.Sprintf("--repair: %v", err), exitStorage)
	}
	logger.Error("--repair CUT THE LOG: records after the kept zxid are gone from the server; the cut bytes are kept aside",
		"segment", rep.Segment, "offset", rep.Offset, "reason", rep.Corruption.Reason,
		"kept_through_zxid", rep.KeptZxid.String(),
		"lost_zxids", fmt.Sprintf("[%v, %v] (%d records recognized; more may have been in the damaged bytes)", rep.LostFirst, rep.LostLast, rep.LostRecords),
		"cut_bytes", rep.CutBytes, "removed_segments", rep.Removed, "aside", rep.AsideDir)
	return nil
}

// moveSnapshotsAfter moves every snapshot that starts after kept into
// aside: such a snapshot holds txns the repaired log no longer has, so
// restoring it and replaying the log would not be a state the server ever
// had at one zxid.
func moveSnapshotsAfter(cfg Config, kept log.Zxid, aside string, logger *slog.Logger) error {
	dir := filepath.Join(cfg.DataDir, engine.SnapshotDirName)
	if _, err := vfs.Default.Stat(dir); vfs.IsNotExist(err) {
		return nil
	}
	store, err := engine.OpenSnapshotStore(vfs.Default, dir)
	if err != nil {
		return fmt.Errorf("opening the snapshots in %s: %w", dir, err)
	}
	infos, err := store.List()
	if err != nil {
		return fmt.Errorf("listing the snapshots in %s: %w", dir, err)
	}
	moved := 0
	for _, info := range infos {
		if info.StartZxid <= kept {
			continue
		}
		to := filepath.Join(aside, filepath.Base(info.Path))
		if err := vfs.Default.Rename(info.Path, to); err != nil {
			return fmt.Errorf("moving snapshot %s past the cut aside: %w", info.Path, err)
		}
		logger.Error("--repair moved aside a snapshot that starts after the cut", "snapshot", info.Path, "to", to,
			"start_zxid", info.StartZxid.String(), "kept_through_zxid", kept.String())
		moved++
	}
	if moved == 0 {
		return nil
	}
	if err := vfs.SyncDir(vfs.Default, aside); err != nil {
		return err
	}
	return vfs.SyncDir(vfs.Default, dir)
}
