package jute

import (
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultMaxFrameBytes is ZooKeeper's default jute.maxbuffer (0xfffff): the
// largest frame body a server accepts unless configured otherwise.
const DefaultMaxFrameBytes = 0xfffff

// ReadFrame reads one length-prefixed frame from r and returns its body,
// WITHOUT the 4-byte length. The body is read into buf when it fits
// (cap(buf) >= length), so callers can reuse one buffer; otherwise a new
// slice is allocated (buf's first 4 bytes hold the length meanwhile). A length below 0 or above maxLen fails with an error
// matching ErrTooLarge before anything is allocated. A stream that ends
// before the body is complete returns io.ErrUnexpectedEOF; a stream that
// ends cleanly before the length returns io.EOF.
func ReadFrame(r io.Reader, maxLen int, buf []byte) ([]byte, error) {
	// The length is read into buf's own memory when it has room (the
	// body overwrites it): a local array would escape to the heap
	// through io.ReadFull, an allocation per frame.
	var hdr []byte
	if cap(buf) >= 4 {
		hdr = buf[:4]
	} else {
		hdr = make([]byte, 4)
	}
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	return readBody(r, hdr, maxLen, buf)
}

// ReadFirstFrame reads the first frame of a new client connection. Before a
// session is established ZooKeeper treats a first 4 bytes that spell a
// four-letter word (see IsFourLetterWord) as that command instead of a
// length; ReadFirstFrame returns the command name and a nil frame then, and
// otherwise behaves as ReadFrame. NB: for "stmk" the client follows the
// word with an 8-byte trace mask that the caller must read itself.
func ReadFirstFrame(r io.Reader, maxLen int, buf []byte) (frame []byte, fourLetterWord string, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, "", err
	}
	if cmd, ok := IsFourLetterWord(hdr[:]); ok {
		return nil, cmd, nil
	}
	frame, err = readBody(r, hdr[:], maxLen, buf)
	return frame, "", err
}

// CheckFrameLength refuses a frame length prefix n that is negative or
// above maxLen, with an error matching ErrTooLarge (ReadFrame's check,
// for a reader that frames its own buffer).
func CheckFrameLength(n int32, maxLen int) error {
	if n < 0 {
		return fmt.Errorf("%w: frame length %d is negative", ErrTooLarge, n)
	}
	if int64(n) > int64(maxLen) {
		return fmt.Errorf("%w: frame length %d exceeds limit %d", ErrTooLarge, n, maxLen)
	}
	return nil
}

func readBody(r io.Reader, hdr []byte, maxLen int, buf []byte) ([]byte, error) {
	n := int32(binary.BigEndian.Uint32(hdr))
	if err := CheckFrameLength(n, maxLen); err != nil {
		return nil, err
	}
	if cap(buf) >= int(n) {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("jute: reading %d-byte frame body: %w", n, err)
	}
	return buf, nil
}

// AppendFrame appends body with its 4-byte big-endian length prefix.
func AppendFrame(dst []byte, body []byte) []byte {
	dst = AppendInt(dst, int32(len(body)))
	return append(dst, body...)
}

// StartFrame appends a 4-byte placeholder for a frame length and returns
// its position; append the body to the returned slice, then call
// FinishFrame. This frames a reply without copying it:
//
//	buf, at := jute.StartFrame(buf[:0])
//	buf = jute.AppendReply(buf, xid, zxid, op, res)
//	buf = jute.FinishFrame(buf, at)
func StartFrame(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// FinishFrame writes the length of everything appended after the
// placeholder at start into that placeholder. It panics if start does not
// leave room for a placeholder (a caller bug, not input).
func FinishFrame(dst []byte, start int) []byte {
	if start < 0 || start+4 > len(dst) {
		panic(fmt.Sprintf("jute: FinishFrame(start=%d) with len(dst)=%d", start, len(dst)))
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// fourLetterWords is ZooKeeper's FourLetterCommands table. The telnet
// interrupt sequence (IAC IP IAC DO, 0xfff4fffd) is known too: ZooKeeper
// answers it by closing the connection.
var fourLetterWords = map[string]string{
	"conf": "conf", "cons": "cons", "crst": "crst", "dirs": "dirs",
	"dump": "dump", "envi": "envi", "gtmk": "gtmk", "ruok": "ruok",
	"stmk": "stmk", "srst": "srst", "srvr": "srvr", "stat": "stat",
	"wchc": "wchc", "wchp": "wchp", "wchs": "wchs", "mntr": "mntr",
	"isro": "isro", "hash": "hash",
	"\xff\xf4\xff\xfd": "telnet close",
}

// IsFourLetterWord reports whether the first 4 bytes of a new connection
// are one of ZooKeeper's four-letter commands rather than a frame length,
// and returns the command's name ("ruok", ..., or "telnet close"). It looks
// only at first4[:4] and returns false when fewer than 4 bytes are given.
// ZooKeeper sniffs only before the connect request; afterwards every 4
// bytes are a length.
func IsFourLetterWord(first4 []byte) (string, bool) {
	if len(first4) < 4 {
		return "", false
	}
	cmd, ok := fourLetterWords[string(first4[:4])]
	return cmd, ok
}
