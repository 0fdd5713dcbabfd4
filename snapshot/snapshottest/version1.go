// Package snapshottest helps the tests of packages above snapshot make
// snapshot files they cannot make with snapshot.Write.
package snapshottest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"

	"zabd/snapshot"
)

// Version1 re-encodes a version 2 snapshot file as the version 1 file of
// the same tree, start zxid and time, as a server written before version 2
// existed would have left it: the header says version 1, the body's
// checksum (which covers the header) is recomputed, and there is no
// trailer, so the end zxid is unknown. See the snapshot package doc for
// both layouts.
func Version1(file []byte) ([]byte, error) {
	m, err := snapshot.ReadMeta(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return nil, err
	}
	if m.Version != snapshot.Version2 {
		return nil, fmt.Errorf("snapshottest: a version %d snapshot, want version %d", m.Version, snapshot.Version2)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(file[snapshot.HeaderBytes:len(file)-snapshot.TrailerBytes], nil)
	if err != nil {
		return nil, fmt.Errorf("snapshottest: decompressing the body: %w", err)
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("snapshottest: a body of %d bytes has no checksum", len(raw))
	}
	hdr := bytes.Clone(file[:snapshot.HeaderBytes])
	binary.BigEndian.PutUint32(hdr[4:8], snapshot.Version1)
	binary.BigEndian.PutUint64(hdr[24:32], xxhash.Sum64(hdr[:24]))
	content := raw[:len(raw)-8]
	h := xxhash.New()
	h.Write(hdr)
	h.Write(content)
	raw = binary.BigEndian.AppendUint64(content, h.Sum64())
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(raw, hdr), nil
}
