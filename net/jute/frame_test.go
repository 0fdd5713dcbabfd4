package jute

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string // hex
		maxLen  int
		want    string // hex of the body
		wantErr error
		errText string
	}{
		{name: "one frame", in: "00000003 616263 | ff", maxLen: 10, want: "616263"},
		{name: "empty body", in: "00000000", maxLen: 10, want: ""},
		{name: "exactly max", in: "00000002 6162", maxLen: 2, want: "6162"},
		{name: "above max", in: "00000003 616263", maxLen: 2, wantErr: ErrTooLarge, errText: "frame length 3 exceeds limit 2"},
		{name: "negative length", in: "ffffffff", maxLen: 2, wantErr: ErrTooLarge, errText: "frame length -1 is negative"},
		{name: "huge length", in: "7fffffff 00", maxLen: DefaultMaxFrameBytes, wantErr: ErrTooLarge, errText: "2147483647"},
		{name: "clean EOF", in: "", maxLen: 10, wantErr: io.EOF},
		{name: "EOF inside length", in: "0000", maxLen: 10, wantErr: io.ErrUnexpectedEOF},
		{name: "EOF inside body", in: "00000004 6162", maxLen: 10, wantErr: io.ErrUnexpectedEOF, errText: "reading 4-byte frame body"},
		{name: "EOF before body", in: "00000004", maxLen: 10, wantErr: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(hx(tc.in)), tc.maxLen, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got err %v, want %v containing %q", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "body", got, hx(tc.want))
		})
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	in := bytes.NewReader(append(AppendFrame(nil, []byte("abc")), AppendFrame(nil, bytes.Repeat([]byte("x"), 100))...))
	buf := make([]byte, 0, 16)
	got, err := ReadFrame(in, 1000, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[:1][0] {
		t.Errorf("small frame was not read into the given buffer")
	}
	got, err = ReadFrame(in, 1000, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || cap(buf) != 16 {
		t.Errorf("large frame: len %d, buffer cap %d", len(got), cap(buf))
	}
}

func TestFrameWriters(t *testing.T) {
	diffBytes(t, "AppendFrame", AppendFrame([]byte{9}, []byte("ab")), hx("09 00000002 6162"))
	diffBytes(t, "AppendFrame empty", AppendFrame(nil, nil), hx("00000000"))

	out, at := StartFrame([]byte{9})
	out = AppendString(out, "/a")
	out = FinishFrame(out, at)
	diffBytes(t, "StartFrame/FinishFrame", out, hx("09 00000006 00000002 2f61"))

	body, err := ReadFrame(bytes.NewReader(out[1:]), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	diffBytes(t, "read back", body, hx("00000002 2f61"))
}

func TestFourLetterWords(t *testing.T) {
	// ZooKeeper's FourLetterCommands table.
	for _, w := range []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
		"srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"} {
		got, ok := IsFourLetterWord([]byte(w))
		if !ok || got != w {
			t.Errorf("IsFourLetterWord(%q) = %q, %v; want %q, true", w, got, ok, w)
		}
		// Followed by more bytes (netcat sends a newline).
		if got, ok := IsFourLetterWord([]byte(w + "\n")); !ok || got != w {
			t.Errorf("IsFourLetterWord(%q+newline) = %q, %v", w, got, ok)
		}
	}
	if got, ok := IsFourLetterWord(hx("fff4fffd")); !ok || got != "telnet close" {
		t.Errorf("telnet interrupt: got %q, %v", got, ok)
	}
	for _, in := range [][]byte{nil, []byte("ruo"), []byte("RUOK"), []byte("ruoj"), hx("0000002c"), []byte("kill")} {
		if got, ok := IsFourLetterWord(in); ok {
			t.Errorf("IsFourLetterWord(%q) = %q, true; want false", in, got)
		}
	}
}

func TestReadFirstFrame(t *testing.T) {
	frame, word, err := ReadFirstFrame(strings.NewReader("ruok"), 100, nil)
	if err != nil || word != "ruok" || frame != nil {
		t.Errorf("ruok: got %q, %q, %v", frame, word, err)
	}
	connect := AppendConnectRequest(nil, ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)})
	frame, word, err = ReadFirstFrame(bytes.NewReader(AppendFrame(nil, connect)), 100, nil)
	if err != nil || word != "" {
		t.Fatalf("connect: got word %q, err %v", word, err)
	}
	diffBytes(t, "connect frame", frame, connect)
	if _, _, err := ReadFirstFrame(bytes.NewReader(hx("00100000")), 100, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized first frame: got err %v, want ErrTooLarge", err)
	}
}
