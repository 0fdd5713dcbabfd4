package zktest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// BuildZabd returns the path of a zabd binary built from this module's
// ./cmd/zabd (with -race when the test binary has it), building it once per
// test binary into a temporary directory. $ZABD_BIN, when set, is used as
// is. A failed build fails t with the build's output.
func BuildZabd(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildBin, buildErr = buildZabd() })
	if buildErr != nil {
		t.Fatalf("zktest: building zabd failed:\n%v", buildErr)
	}
	return buildBin
}

func buildZabd() (string, error) {
	if p := os.Getenv("ZABD_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ZABD_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "zabd-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "zabd")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/zabd")
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), root, err, out.String())
	}
	return bin, nil
}

// goTool returns the go command of the toolchain that built this test.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// ModuleRoot returns the directory holding this module's go.mod: asked of
// `go env GOMOD` from the working directory (a package directory under
// `go test`), else derived from this source file's location.
func ModuleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	return "", fmt.Errorf("zktest: cannot find the module root (go env GOMOD: %v)", err)
}
