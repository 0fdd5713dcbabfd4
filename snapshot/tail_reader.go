package snapshot

import (
	"errors"
	"io"
)

// tailReader passes on the bytes of r except the last keep: it hands out a
// byte only once at least keep more have been read behind it. After r's
// end, tail returns the bytes held back (fewer than keep if r was
// shorter). Read streams a version 2 snapshot through one, so that the
// body's decoder sees the compressed body and not the trailer after it.
//
// Single owner.
//
// Invariant: held holds the bytes read from r and not handed out, in
// order; only its last keep bytes (or all, if fewer) are the tail so far.
type tailReader struct {
	r    io.Reader
	keep int
	held []byte
	eof  bool // r returned io.EOF
}

// Read hands out bytes known not to be among the last keep. A read bigger
// than what is held goes straight into p, behind the held bytes, so the
// decoder's big reads cost no extra copy of the stream.
func (t *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(t.held) > t.keep {
			n := copy(p, t.held[:len(t.held)-t.keep])
			t.held = append(t.held[:0], t.held[n:]...)
			return n, nil
		}
		if t.eof {
			return 0, io.EOF
		}
		if len(p) <= len(t.held) {
			// Too small to read into behind the held bytes: read into
			// held's spare room; the next turn hands out the excess.
			if cap(t.held)-len(t.held) < len(p) {
				t.held = append(make([]byte, 0, t.keep+max(len(p), 512)), t.held...)
			}
			m, err := t.r.Read(t.held[len(t.held):cap(t.held)])
			t.held = t.held[:len(t.held)+m]
			if err == io.EOF {
				t.eof = true
			} else if err != nil {
				return 0, err
			}
			continue
		}
		h := copy(p, t.held)
		m, err := t.r.Read(p[h:])
		total := h + m
		if err == io.EOF {
			t.eof = true
		} else if err != nil {
			t.held = append(t.held[:0], p[:total]...)
			return 0, err
		}
		if total <= t.keep {
			t.held = append(t.held[:0], p[:total]...)
			continue
		}
		out := total - t.keep
		t.held = append(t.held[:0], p[out:total]...)
		return out, nil
	}
}

// errTailUnread is returned by tail when bytes before the held ones were
// never read: the consumer stopped before the end of the stream it was
// given.
var errTailUnread = errors.New("data after the body's stream")

// tail reads r to its end and returns the bytes held back: the last keep
// bytes of r, or all of them if r was shorter.
func (t *tailReader) tail() ([]byte, error) {
	var scratch [512]byte
	for {
		n, err := t.Read(scratch[:])
		if n > 0 {
			return nil, errTailUnread
		}
		if err == io.EOF {
			return t.held, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
