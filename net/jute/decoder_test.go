package jute

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"zabd/tree"
)

func TestPrimitivesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		wire string
	}{
		{"int", AppendInt(nil, -2), "fffffffe"},
		{"int max", AppendInt(nil, 0x7fffffff), "7fffffff"},
		{"long", AppendLong(nil, 0x0102030405060708), "0102030405060708"},
		{"long -1", AppendLong(nil, -1), "ffffffffffffffff"},
		{"bool true", AppendBool(nil, true), "01"},
		{"bool false", AppendBool(nil, false), "00"},
		{"buffer null", AppendBuffer(nil, nil), "ffffffff"},
		{"buffer empty", AppendBuffer(nil, []byte{}), "00000000"},
		{"buffer", AppendBuffer(nil, []byte{0xca, 0xfe}), "00000002 cafe"},
		{"string", AppendString(nil, "é/"), "00000003 c3a92f"},
		{"string empty", AppendString(nil, ""), "00000000"},
		{"strings null", AppendStrings(nil, nil), "ffffffff"},
		{"strings", AppendStrings(nil, []string{"a", ""}), "00000002 00000001 61 00000000"},
		{"acls null", AppendACLs(nil, nil), "ffffffff"},
		{"acls", AppendACLs(nil, tree.OpenACLUnsafe), hOpenACL},
		{"stat", AppendStat(nil, testStat), hStat},
	} {
		t.Run(tc.name, func(t *testing.T) { diffBytes(t, tc.name, tc.enc, hx(tc.wire)) })
	}
}

func TestDecoderPrimitives(t *testing.T) {
	b := hx("fffffffe | 0102030405060708 | 01 | 02 | ffffffff | 00000000 | 00000002 cafe | 00000003 c3a92f | ffffffff |" +
		"ffffffff | 00000002 00000001 61 00000000 | fffffffe |" + hOpenACL + "|" + hStat)
	d := NewDecoder(b)
	if got := d.Int(); got != -2 {
		t.Errorf("Int: got %d", got)
	}
	if got := d.Long(); got != 0x0102030405060708 {
		t.Errorf("Long: got %x", got)
	}
	if !d.Bool() || !d.Bool() {
		t.Errorf("Bool: 01 and 02 must read true")
	}
	if got := d.Buffer(); got != nil {
		t.Errorf("null Buffer: got %v, want nil", got)
	}
	if got := d.Buffer(); got == nil || len(got) != 0 {
		t.Errorf("empty Buffer: got %#v, want non-nil empty", got)
	}
	if got := d.Buffer(); string(got) != "\xca\xfe" {
		t.Errorf("Buffer: got %x", got)
	}
	if got := d.String(); got != "é/" {
		t.Errorf("String: got %q", got)
	}
	if got := d.String(); got != "" {
		t.Errorf("null String: got %q", got)
	}
	if got := d.Strings(); got != nil {
		t.Errorf("null Strings: got %#v", got)
	}
	if d := cmpExact([]string{"a", ""}, d.Strings()); d != "" {
		t.Errorf("Strings: %s", d)
	}
	if got := d.Strings(); got == nil || len(got) != 0 {
		t.Errorf("count -2 Strings: got %#v, want non-nil empty", got)
	}
	if d := cmpExact(tree.OpenACLUnsafe, d.ACLs()); d != "" {
		t.Errorf("ACLs: %s", d)
	}
	if got := d.Stat(); got != testStat {
		t.Errorf("Stat: got %+v", got)
	}
	if d.Err() != nil || d.Remaining() != 0 {
		t.Errorf("err %v, remaining %d", d.Err(), d.Remaining())
	}
	// Reading past the end is sticky and zero-valued.
	if d.Int() != 0 || d.Err() == nil {
		t.Errorf("read past end did not fail")
	}
	first := d.Err()
	d.Long()
	if d.Err() != first {
		t.Errorf("error is not sticky: %v then %v", first, d.Err())
	}
	if !strings.Contains(first.Error(), "int at offset") {
		t.Errorf("error %q does not name the primitive and offset", first)
	}
}

func TestDecoderBroken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wire    string
		read    func(d *Decoder)
		errText string
	}{
		{"int short", "000000", func(d *Decoder) { d.Int() }, "int at offset 0: need 4 bytes, 3 remaining"},
		{"long short", "00000000", func(d *Decoder) { d.Long() }, "long at offset 0"},
		{"bool empty", "", func(d *Decoder) { d.Bool() }, "boolean at offset 0"},
		{"buffer negative", "fffffffe", func(d *Decoder) { d.Buffer() }, "buffer at offset 0: negative length -2"},
		{"buffer min int", "80000000", func(d *Decoder) { d.Buffer() }, "negative length -2147483648"},
		{"buffer too long", "00000005 0102", func(d *Decoder) { d.Buffer() }, "length 5 exceeds 2 remaining bytes"},
		{"string huge", "7fffffff", func(d *Decoder) { _ = d.String() }, "ustring at offset 0: length 2147483647"},
		{"strings huge count", "7fffffff 00000000", func(d *Decoder) { d.Strings() }, "count 2147483647 cannot fit in 4"},
		{"strings element short", "00000001 00000003 61", func(d *Decoder) { d.Strings() }, "ustring at offset 4"},
		{"acls count beyond min size", "00000002" + "00000001 00000000 00000000", func(d *Decoder) { d.ACLs() }, "count 2 cannot fit in 12"},
		{"stat short", strings.Repeat("00", 67), func(d *Decoder) { d.Stat() }, "Stat at offset 0: need 68 bytes, 67 remaining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(hx(tc.wire))
			tc.read(d)
			err := d.Err()
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("got err %v, want ErrMalformed containing %q", err, tc.errText)
			}
			if d.Remaining() != 0 {
				t.Errorf("Remaining after error: %d", d.Remaining())
			}
		})
	}
}

// TestDecoderBoundedAllocation: a claimed length or count far beyond the
// input costs no allocation proportional to the claim.
func TestDecoderBoundedAllocation(t *testing.T) {
	for _, wire := range []string{"7fffffff", "7ffffff0 00000000", "00ffffff 00000000 00000000"} {
		b := hx(wire)
		perRun := allocatedBytes(100, func() {
			d := NewDecoder(b)
			d.Strings()
			d = NewDecoder(b)
			d.ACLs()
			d = NewDecoder(b)
			d.Buffer()
		})
		if perRun > 2048 { // decoders and error values, nothing sized by the claim
			t.Errorf("%s: %d bytes allocated per run", wire, perRun)
		}
	}
}

// allocatedBytes returns the heap bytes fn allocates per call, averaged
// over runs calls.
func allocatedBytes(runs int, fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}
