package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
)

// repairLog is --repair: if the native log refuses to open for corruption,
// log.Repair moves everything from the first bad record on into
// <dataDir>/repair-<UTC time>/ and cuts the log there; then every snapshot
// that cannot stand for the state at the cut goes into the same directory
// (moveUnusableSnapshots). It says loudly what was cut and moved. Other
// engines refuse --repair.
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
	if err := moveUnusableSnapshots(cfg, rep.KeptZxid, rep.AsideDir, logger); err != nil {
		return cli.Exit(fmt.Sprintf("--repair: %v", err), exitStorage)
	}
	logger.Error("--repair CUT THE LOG: records after the kept zxid are gone from the server; the cut bytes are kept aside",
		"segment", rep.Segment, "offset", rep.Offset, "reason", rep.Corruption.Reason,
		"kept_through_zxid", rep.KeptZxid.String(),
		"lost_zxids", fmt.Sprintf("[%v, %v] (%d records recognized; more may have been in the damaged bytes)", rep.LostFirst, rep.LostLast, rep.LostRecords),
		"cut_bytes", rep.CutBytes, "removed_segments", rep.Removed, "aside", rep.AsideDir)
	return nil
}

// moveUnusableSnapshots moves into aside every snapshot that cannot stand
// for the state at kept, where the repair cut the log
// (engine.SnapshotStore.UsableFor): one that starts after the cut, one
// whose walk ended after it (a fuzzy snapshot holds the txns applied while
// it was written, up to its end zxid, so one that straddles the cut holds
// txns the repaired log no longer has), one of format version 1, which
// does not record where its walk ended, and one whose header or trailer
// cannot be read. Restoring any of them and replaying the log would give a
// tree the server never had at one zxid. They are moved, not removed: an
// operator can still look at them.
func moveUnusableSnapshots(cfg Config, kept log.Zxid, aside string, logger *slog.Logger) error {
	dir := filepath.Join(cfg.DataDir, engine.SnapshotDirName)
	if _, err := vfs.Default.Stat(dir); vfs.IsNotExist(err) {
		return nil
	}
	store, err := engine.OpenSnapshotStore(vfs.Default, dir)
	if err != nil {
		return fmt.Errorf("opening the snapshots in %s: %w", dir, err)
	}
	moved, err := datadir.SetAsideUnusable(vfs.Default, store, dir, kept, aside)
	for _, m := range moved {
		logger.Error("--repair moved aside a snapshot that cannot stand for the state at the cut", "snapshot", m.From, "to", m.To,
			"reason", m.Why, "start_zxid", m.Meta.StartZxid.String(), "end_zxid", endZxidString(m.Meta), "kept_through_zxid", kept.String())
	}
	return err
}

// endZxidString is a snapshot's end zxid for a log line, "unknown" when
// it was not read or its version does not record it.
func endZxidString(m snapshot.Meta) string {
	if !m.EndKnown() {
		return "unknown"
	}
	return m.EndZxid.String()
}
