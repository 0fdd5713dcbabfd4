package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ZooKeeperMainClass is the standalone server's entry point.
const ZooKeeperMainClass = "org.apache.zookeeper.server.ZooKeeperServerMain"

// ZKOptions configures an Apache ZooKeeper child. Zero values take the
// defaults named on each field.
type ZKOptions struct {
	Dir       string            // required: holds zoo.cfg, zookeeper.log, data/
	DataDir   string            // default Dir/data
	Port      int               // default: a free port
	ForceSync bool              // fsync the txn log before acking (ZooKeeper's own default is true; ours is false for fast tests)
	ExtraCfg  map[string]string // laid over BaseZooCfg; "" removes a key
	JVMFlags  []string          // default -Xmx512m
	SysProps  map[string]string // extra -Dk=v
	ClassPath string            // default: ZooKeeperClassPath()
	Java      string            // default: $JAVA_HOME/bin/java, else java on PATH
	CPUs      string            // run under taskset -c CPUs (e.g. "0"); empty: anywhere

	StartTimeout time.Duration // default DefaultStartTimeout
	StopTimeout  time.Duration // default DefaultStopTimeout
}

// FindJava returns the java executable: $JAVA_HOME/bin/java if it exists,
// else java on PATH, else an error matching ErrNotInstalled.
func FindJava() (string, error) {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		p := filepath.Join(h, "bin", "java")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("launch: java (package default-jre-headless): %w: %v", ErrNotInstalled, err)
	}
	return p, nil
}

// zkJarDirs are where distributions put ZooKeeper's jars, in the order
// searched: Debian's flat /usr/share/java (whose zookeeper.jar names its
// dependencies in its manifest), then upstream tarball layouts.
var zkJarDirs = []string{"/usr/share/java", "/usr/share/zookeeper/lib", "/usr/share/zookeeper", "/opt/zookeeper/lib", "/opt/zookeeper"}

// ZooKeeperClassPath finds the jars to run Apache ZooKeeper's server with.
// $ZOOKEEPER_CLASSPATH wins when set; then every jar of $ZOOKEEPER_HOME/lib
// and $ZOOKEEPER_HOME; then the first directory of zkJarDirs holding a
// zookeeper jar. An SLF4J binding (slf4j-simple, which writes to stderr) is
// added when the directory has one and the class path has none, so the
// server's log is not silently dropped. Missing jars are an error matching
// ErrNotInstalled.
func ZooKeeperClassPath() (string, error) {
	if cp := os.Getenv("ZOOKEEPER_CLASSPATH"); cp != "" {
		return cp, nil
	}
	dirs := zkJarDirs
	if h := os.Getenv("ZOOKEEPER_HOME"); h != "" {
		dirs = append([]string{filepath.Join(h, "lib"), h}, dirs...)
	}
	for _, d := range dirs {
		if cp := classPathIn(d); cp != "" {
			return cp, nil
		}
	}
	return "", fmt.Errorf("launch: Apache ZooKeeper jars (package zookeeper) in %s: %w", strings.Join(dirs, ", "), ErrNotInstalled)
}

// classPathIn returns a class path for the ZooKeeper jars in dir, or "".
func classPathIn(dir string) string {
	// Debian: one unversioned jar whose manifest Class-Path pulls in the rest.
	if fileExists(filepath.Join(dir, "zookeeper.jar")) {
		cp := []string{filepath.Join(dir, "zookeeper.jar")}
		if j := filepath.Join(dir, "zookeeper-jute.jar"); fileExists(j) {
			cp = append(cp, j)
		}
		if b := filepath.Join(dir, "slf4j-simple.jar"); fileExists(b) {
			cp = append(cp, b)
		}
		return strings.Join(cp, string(os.PathListSeparator))
	}
	// Upstream tarball: zookeeper-X.Y.Z.jar with all dependencies beside it.
	zk, _ := filepath.Glob(filepath.Join(dir, "zookeeper-[0-9]*.jar"))
	if len(zk) == 0 {
		return ""
	}
	all, _ := filepath.Glob(filepath.Join(dir, "*.jar"))
	sort.Strings(all)
	return strings.Join(all, string(os.PathListSeparator))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ZooKeeperInstalled reports (as an error matching ErrNotInstalled) whether
// java and ZooKeeper's jars are present, without starting anything.
func ZooKeeperInstalled() error {
	if _, err := FindJava(); err != nil {
		return err
	}
	_, err := ZooKeeperClassPath()
	return err
}

// StartApacheZK writes zoo.cfg into o.Dir, starts ZooKeeper's standalone
// server and waits until it answers ruok. ctx bounds the start only; the
// server runs until Stop or Kill.
func StartApacheZK(ctx context.Context, o ZKOptions) (*Process, error) {
	java, cp, err := findZK(o)
	if err != nil {
		return nil, err
	}
	return onFreePort(ctx, o.Port != 0, func() (*Process, error) {
		p, err := prepare("zookeeper", o.Dir, o.DataDir, o.Port, o.StartTimeout, o.StopTimeout)
		if err != nil {
			return nil, err
		}
		if err := writeCfg(p, MergeCfg(BaseZooCfg(p.Port, p.DataDir, o.ForceSync), o.ExtraCfg)); err != nil {
			return nil, err
		}
		if p.argv, err = zkArgv(java, cp, ZooKeeperMainClass, p, o); err != nil {
			return nil, err
		}
		p.env = os.Environ()
		if err := p.start(ctx); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// zkArgv is the command line of a ZooKeeper server p running mainClass
// from class path cp with o's JVM flags and system properties, under
// taskset when o.CPUs says so.
func zkArgv(java, cp, mainClass string, p *Process, o ZKOptions) ([]string, error) {
	props := map[string]string{
		"zookeeper.extendedTypesEnabled":         "true",
		"zookeeper.log.dir":                      p.Dir,
		"zookeeper.log.file":                     "zookeeper-file.log",
		"zookeeper.root.logger":                  "INFO,CONSOLE",
		"zookeeper.admin.enableServer":           "false",
		"java.net.preferIPv4Stack":               "true",
		"org.slf4j.simpleLogger.showDateTime":    "true",
		"org.slf4j.simpleLogger.dateTimeFormat":  "HH:mm:ss.SSS",
		"org.slf4j.simpleLogger.defaultLogLevel": "info",
	}
	for k, v := range o.SysProps {
		props[k] = v
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	jvm := o.JVMFlags
	if len(jvm) == 0 {
		jvm = []string{"-Xmx512m"}
	}
	argv := append([]string{java}, jvm...)
	for _, k := range keys {
		argv = append(argv, "-D"+k+"="+props[k])
	}
	argv = append(argv, "-cp", cp, mainClass, p.ConfigPath)
	return pinArgv(argv, o.CPUs)
}

// findZK returns the java and class path o names, or those installed.
func findZK(o ZKOptions) (java, cp string, err error) {
	if java = o.Java; java == "" {
		if java, err = FindJava(); err != nil {
			return "", "", err
		}
	}
	if cp = o.ClassPath; cp == "" {
		if cp, err = ZooKeeperClassPath(); err != nil {
			return "", "", err
		}
	}
	return java, cp, nil
}

// prepare fills the fields common to both servers: directories, port,
// config and log paths, bounds.
func prepare(name, dir, dataDir string, port int, startTimeout, stopTimeout time.Duration) (*Process, error) {
	if dir == "" {
		return nil, fmt.Errorf("launch: %s: Dir is required", name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("launch: %s: %w", name, err)
	}
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, fmt.Errorf("launch: %s: %w", name, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("launch: %s: %w", name, err)
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if startTimeout <= 0 {
		startTimeout = DefaultStartTimeout
	}
	if stopTimeout <= 0 {
		stopTimeout = DefaultStopTimeout
	}
	p := &Process{
		Name:         name,
		Addr:         fmt.Sprintf("127.0.0.1:%d", port),
		Port:         port,
		Dir:          dir,
		DataDir:      dataDir,
		ConfigPath:   filepath.Join(dir, "zoo.cfg"),
		LogPath:      filepath.Join(dir, name+".log"),
		startTimeout: startTimeout,
		stopTimeout:  stopTimeout,
	}
	return p, nil
}

func writeCfg(p *Process, kv map[string]string) error {
	b, err := RenderZooCfg(kv)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.ConfigPath, b, 0o644); err != nil {
		return fmt.Errorf("launch: %s: write %s: %w", p.Name, p.ConfigPath, err)
	}
	return nil
}
