package launch

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderZooCfg(t *testing.T) {
	tests := []struct {
		name    string
		kv      map[string]string
		want    string
		wantErr string
	}{
		{name: "empty", kv: nil, want: ""},
		{name: "sorted", kv: map[string]string{"tickTime": "2000", "clientPort": "2181", "4lw.commands.whitelist": "*"},
			want: "4lw.commands.whitelist=*\nclientPort=2181\ntickTime=2000\n"},
		{name: "value with equals", kv: map[string]string{"superDigest": "super:abc="}, want: "superDigest=super:abc=\n"},
		{name: "key with equals", kv: map[string]string{"a=b": "c"}, wantErr: "cannot be written"},
		{name: "comment key", kv: map[string]string{"#x": "c"}, wantErr: "cannot be written"},
		{name: "newline in value", kv: map[string]string{"a": "b\nc=d"}, wantErr: "newline"},
		{name: "padded key", kv: map[string]string{" a": "b"}, wantErr: "padded"},
		{name: "empty key", kv: map[string]string{"": "b"}, wantErr: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderZooCfg(tc.kv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RenderZooCfg(%q) error = %v, want one containing %q", tc.kv, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderZooCfg(%q): %v", tc.kv, err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("RenderZooCfg(%q) (-want +got):\n%s", tc.kv, diff)
			}
		})
	}
}

func TestBaseZooCfgMerge(t *testing.T) {
	got := MergeCfg(BaseZooCfg(4242, "/d", true), map[string]string{
		"maxClientCnxns": "10",      // override
		"forceSync":      "",        // remove
		"superDigest":    "super:x", // add
	})
	want := map[string]string{
		"tickTime":               "2000",
		"dataDir":                "/d",
		"clientPort":             "4242",
		"clientPortAddress":      "127.0.0.1",
		"maxClientCnxns":         "10",
		"4lw.commands.whitelist": "*",
		"admin.enableServer":     "false",
		"extendedTypesEnabled":   "true",
		"superDigest":            "super:x",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged cfg (-want +got):\n%s", diff)
	}
	if BaseZooCfg(1, "/d", false)["forceSync"] != "no" || BaseZooCfg(1, "/d", true)["forceSync"] != "yes" {
		t.Errorf("forceSync not rendered from the flag")
	}
}
