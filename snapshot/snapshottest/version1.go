// Package snapshottest helps the tests of packages above snapshot make
// snapshot files they cannot make with snapshot.Write.
package snapshottest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"zabd/snapshot"
)

// Version1 re-encodes a version 2 or 3 snapshot file (of any codec) as
// the version 1 file of the same tree, start zxid and time, as a server
// written before version 2 existed would have left it: the header says
// version 1, there is no codec byte (the body is zstd), the body's
// checksum (which covers the header) is recomputed, and there is no
// trailer, so the end zxid is unknown. See the snapshot package doc for
// the layouts.
func Version1(file []byte) ([]byte, error) {
	m, err := snapshot.ReadMeta(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return nil, err
	}
	bodyAt := snapshot.HeaderBytes
	switch m.Version {
	case snapshot.Version2:
	case snapshot.Version3:
		bodyAt++ // the codec byte
	default:
		return nil, fmt.Errorf("snapshottest: a version %d snapshot, want version 2 or 3", m.Version)
	}
	raw, err := decompress(file[bodyAt:len(file)-snapshot.TrailerBytes], m.Codec)
	if err != nil {
		return nil, fmt.Errorf("snapshottest: decompressing the %v body: %w", m.Codec, err)
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

func decompress(body []byte, c snapshot.Codec) ([]byte, error) {
	switch c {
	case snapshot.CodecZstd:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		return dec.DecodeAll(body, nil)
	case snapshot.CodecS2:
		return io.ReadAll(s2.NewReader(bytes.NewReader(body)))
	case snapshot.CodecNone:
		return bytes.Clone(body), nil
	}
	return nil, fmt.Errorf("unknown codec %d", c)
}
