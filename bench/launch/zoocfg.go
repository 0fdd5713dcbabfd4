package launch

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// BaseZooCfg returns the zoo.cfg keys both servers are started with: a
// standalone server on 127.0.0.1:port keeping its state in dataDir, every
// four-letter word allowed, no admin HTTP server, no per-IP connection
// limit, TTL nodes enabled, and forceSync as asked.
func BaseZooCfg(port int, dataDir string, forceSync bool) map[string]string {
	fs := "no"
	if forceSync {
		fs = "yes"
	}
	return map[string]string{
		"tickTime":               "2000",
		"dataDir":                dataDir,
		"clientPort":             strconv.Itoa(port),
		"clientPortAddress":      "127.0.0.1",
		"maxClientCnxns":         "0",
		"4lw.commands.whitelist": "*",
		"admin.enableServer":     "false",
		"forceSync":              fs,
		// Apache ZooKeeper turns an unknown key k into the system property
		// zookeeper.k, so this enables TTL nodes there; zabd reads it as is.
		"extendedTypesEnabled": "true",
	}
}

// MergeCfg returns base with extra laid over it; an extra key with the
// empty value removes that key.
func MergeCfg(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// RenderZooCfg renders kv as zoo.cfg lines "key=value", sorted by key so
// the file is byte-stable. Keys or values containing a newline, and keys
// containing '=' or starting with '#', cannot be represented and are an
// error.
func RenderZooCfg(kv map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		v := kv[k]
		switch {
		case k == "" || strings.TrimSpace(k) != k:
			return nil, fmt.Errorf("launch: zoo.cfg key %q is empty or padded", k)
		case strings.ContainsAny(k, "=\n\r") || strings.HasPrefix(k, "#") || strings.HasPrefix(k, "!"):
			return nil, fmt.Errorf("launch: zoo.cfg key %q cannot be written", k)
		case strings.ContainsAny(v, "\n\r"):
			return nil, fmt.Errorf("launch: zoo.cfg value of %q contains a newline", k)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.Bytes(), nil
}
