package jute

import (
	"errors"
	"strings"
	"testing"
)

var passwd16 = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

const hPasswd16 = "00000010 000102030405060708090a0b0c0d0e0f"

func connectRequestCases() []struct {
	name string
	req  ConnectRequest
	wire string
} {
	return []struct {
		name string
		req  ConnectRequest
		wire string
	}{
		{"new session", ConnectRequest{LastZxidSeen: 0x10, TimeOut: 30000, Passwd: make([]byte, 16)},
			"00000000 | 0000000000000010 | 00007530 | 0000000000000000 | 00000010" + strings.Repeat("00", 16) + "| 00"},
		{"re-attach read-only", ConnectRequest{LastZxidSeen: 5, TimeOut: 4000, SessionID: 0x1234, Passwd: passwd16, ReadOnly: true},
			"00000000 | 0000000000000005 | 00000fa0 | 0000000000001234 |" + hPasswd16 + "| 01"},
		{"legacy client (go-zookeeper, ZooKeeper <= 3.3): no readOnly byte",
			ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), Legacy: true},
			"00000000 | 0000000000000000 | 00007530 | 0000000000000000 | 00000010" + strings.Repeat("00", 16)},
		{"null password", ConnectRequest{TimeOut: 1}, "00000000 | 0000000000000000 | 00000001 | 0000000000000000 | ffffffff | 00"},
	}
}

func TestConnectRequestGolden(t *testing.T) {
	for _, tc := range connectRequestCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			diffBytes(t, "AppendConnectRequest", AppendConnectRequest(nil, tc.req), want)
			got, err := DecodeConnectRequest(want)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmpExact(tc.req, got); d != "" {
				t.Errorf("DecodeConnectRequest (-want +got):\n%s", d)
			}
			// Every cut before the passwd ends fails; cutting only the
			// readOnly byte gives a legacy request.
			for n := range len(want) {
				got, err := DecodeConnectRequest(want[:n])
				if n == len(want)-1 && !tc.req.Legacy {
					if err != nil || !got.Legacy {
						t.Errorf("without readOnly byte: got %+v, %v; want a legacy request", got, err)
					}
					continue
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d/%d: got err %v, want ErrMalformed", n, len(want), err)
				}
			}
			// Trailing bytes after readOnly are ignored.
			if !tc.req.Legacy {
				got, err := DecodeConnectRequest(append(want[:len(want):len(want)], 0xde, 0xad))
				if err != nil || cmpExact(tc.req, got) != "" {
					t.Errorf("with trailing bytes: got %+v, %v", got, err)
				}
			}
		})
	}
}

func TestConnectRequestBroken(t *testing.T) {
	for _, tc := range []struct {
		name, wire, errText string
	}{
		{"negative passwd length", "00000000 | 0000000000000000 | 00007530 | 0000000000000000 | fffffff0 | 00",
			"ConnectRequest: buffer at offset 24: negative length -16"},
		{"huge passwd length", "00000000 | 0000000000000000 | 00007530 | 0000000000000000 | 7fffffff | 00",
			"length 2147483647 exceeds 1 remaining bytes"},
		{"empty", "", "ConnectRequest: int at offset 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeConnectRequest(hx(tc.wire))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("got err %v, want ErrMalformed containing %q", err, tc.errText)
			}
		})
	}
}

func TestConnectResponseGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp ConnectResponse
		wire string
	}{
		{"session", ConnectResponse{TimeOut: 30000, SessionID: 0xabc, Passwd: passwd16},
			"00000000 | 00007530 | 0000000000000abc |" + hPasswd16 + "| 00"},
		{"read-only server", ConnectResponse{TimeOut: 4000, SessionID: 1, Passwd: passwd16, ReadOnly: true},
			"00000000 | 00000fa0 | 0000000000000001 |" + hPasswd16 + "| 01"},
		{"expired (ZooKeeper: id 0, timeout 0, 16 zero bytes)", ConnectResponse{Passwd: make([]byte, 16)},
			"00000000 | 00000000 | 0000000000000000 | 00000010" + strings.Repeat("00", 16) + "| 00"},
		{"legacy: no readOnly byte", ConnectResponse{TimeOut: 30000, SessionID: 0xabc, Passwd: passwd16, Legacy: true},
			"00000000 | 00007530 | 0000000000000abc |" + hPasswd16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			diffBytes(t, "AppendConnectResponse", AppendConnectResponse(nil, tc.resp), want)
			got, err := DecodeConnectResponse(want)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmpExact(tc.resp, got); d != "" {
				t.Errorf("DecodeConnectResponse (-want +got):\n%s", d)
			}
			for n := range len(want) - 1 {
				if _, err := DecodeConnectResponse(want[:n]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d: got err %v, want ErrMalformed", n, err)
				}
			}
		})
	}
}
