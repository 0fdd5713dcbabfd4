package zkcli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// Version is what the version command reports after "ZooKeeper CLI
// version: ". cmd sets it from its build info.
var Version = "zabctl (devel)"

// Command describes one zkCli command.
type Command struct {
	Name  string
	Usage string // zkCli's option string, e.g. "[-s] [-w] [-R] path"
	// NoSession: the command runs without a ZooKeeper session.
	NoSession bool

	opts optSpec
	run  func(c *Client, p *parsedArgs) error
}

// UsageLine is "name usage", zkCli's getUsageStr.
func (cmd *Command) UsageLine() string { return strings.TrimRight(cmd.Name+" "+cmd.Usage, " ") }

// Commands lists the zkCli commands zkcli implements, by name.
func Commands() []*Command {
	out := make([]*Command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the command called name, or nil.
func Lookup(name string) *Command { return commands[name] }

var commands = map[string]*Command{}

func init() {
	for _, c := range []*Command{
		{Name: "ls", Usage: "[-s] [-w] [-R] path", opts: optSpec{'s': false, 'w': false, 'R': false, '?': false}, run: runLs},
		{Name: "create", Usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]", opts: optSpec{'s': false, 'e': false, 'c': false, 't': true}, run: runCreate},
		{Name: "get", Usage: "[-s] [-w] path", opts: optSpec{'s': false, 'w': false}, run: runGet},
		{Name: "set", Usage: "[-s] [-v version] path data", opts: optSpec{'s': false, 'v': true}, run: runSet},
		{Name: "stat", Usage: "[-w] path", opts: optSpec{'w': false}, run: runStat},
		{Name: "delete", Usage: "[-v version] path", opts: optSpec{'v': true}, run: runDelete},
		{Name: "deleteall", Usage: "path [-b batch size]", opts: optSpec{'b': true}, run: runDeleteAll},
		{Name: "getAcl", Usage: "[-s] path", opts: optSpec{'s': false}, run: runGetACL},
		{Name: "setAcl", Usage: "[-s] [-v version] [-R] path acl", opts: optSpec{'s': false, 'v': true, 'R': false}, run: runSetACL},
		{Name: "addauth", Usage: "scheme auth", opts: optSpec{}, run: runAddAuth},
		{Name: "sync", Usage: "path", opts: optSpec{}, run: runSync},
		{Name: "addWatch", Usage: "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", opts: optSpec{'m': true}, run: runAddWatch},
		{Name: "removewatches", Usage: "path [-c|-d|-a] [-l]", opts: optSpec{'c': false, 'd': false, 'a': false, 'l': false}, run: runRemoveWatches},
		{Name: "getEphemerals", Usage: "path", opts: optSpec{}, run: runGetEphemerals},
		{Name: "getAllChildrenNumber", Usage: "path", opts: optSpec{}, run: runGetAllChildrenNumber},
		{Name: "whoami", Usage: "", opts: optSpec{}, run: runWhoAmI},
		{Name: "version", Usage: "", NoSession: true, opts: optSpec{}, run: runVersion},
	} {
		commands[c.Name] = c
	}
}

// Exec runs one zkCli command, words[0] being its name, and prints its
// output as zkCli does. A failure is returned as *Error; its Msg has not
// been printed (the shell prints it on Err, cmd via cli.Exit) unless it is
// empty.
func (c *Client) Exec(words []string) error {
	if len(words) == 0 {
		return usageErr("No command entered")
	}
	cmd := Lookup(words[0])
	if cmd == nil {
		return &Error{Kind: KindUsage, Msg: "Command not found: Command not found " + words[0]}
	}
	p, perr := parseOpts(words, cmd.opts)
	if perr != nil {
		return perr
	}
	if !cmd.NoSession && (c == nil || !c.Connected()) {
		return &Error{Kind: KindConn, Code: tree.CodeConnectionLoss, Msg: errNotConnected.Error()}
	}
	return cmd.run(c, p)
}

// RunOnce is zkCli's one-shot mode: connect (unless the command needs no
// session), run words, close.
func RunOnce(o Options, words []string) error {
	if len(words) > 0 {
		if cmd := Lookup(words[0]); cmd != nil && cmd.NoSession {
			o.fill()
			c := &Client{o: o, out: o.Out, errw: o.Err}
			return c.Exec(words)
		}
	}
	c, err := Dial(o)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Exec(words)
}

func (c *Client) usage(name string) *Error { return usageErr("%s", commands[name].UsageLine()) }

// checkPath is zkCli's MalformedPathException: a client-side path error.
func checkPath(path string, sequential bool) *Error {
	if msg := ValidatePath(path, sequential); msg != "" {
		return &Error{Kind: KindUsage, Msg: msg}
	}
	return nil
}

// javaInt is Integer.parseInt; its failure is a NumberFormatException,
// which zkCli does not catch for -v.
func javaInt(s string) (int32, *Error) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, usageErr("java.lang.NumberFormatException: For input string: \"%s\"", s)
	}
	return int32(v), nil
}

// retainCompat handles the pre-3.5 "cmd path watch" forms: a third word
// turns the watch on, with zkCli's deprecation notice.
func (c *Client) retainCompat(p *parsedArgs, notice string) {
	if len(p.args) > 2 {
		fmt.Fprintln(c.errw, notice)
		p.args = p.args[:2]
		p.opts['w'] = ""
	}
}

func runLs(c *Client, p *parsedArgs) error {
	c.retainCompat(p, "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.")
	if len(p.args) < 2 {
		return c.usage("ls")
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	watch := p.has('w')
	if p.has('R') {
		return c.visitSubTree(path, watch, func(child string) error {
			fmt.Fprintln(c.out, child)
			return nil
		})
	}
	children, st, err := c.children(path, watch)
	if err != nil {
		return zkErr(err, path)
	}
	sort.Strings(children)
	var b strings.Builder
	b.WriteString(javaList(children))
	b.WriteByte('\n')
	if p.has('s') {
		WriteStat(&b, st, c.o.Location)
	}
	io.WriteString(c.out, b.String())
	return nil
}

func (c *Client) children(path string, watch bool) ([]string, *zk.Stat, error) {
	if !watch {
		return c.conn.Children(path)
	}
	ch, st, _, err := c.conn.ChildrenW(path)
	if err == nil {
		c.addWatch(watchChild, path)
	}
	return ch, st, err
}

func (c *Client) getData(path string, watch bool) ([]byte, *zk.Stat, error) {
	if !watch {
		return c.conn.Get(path)
	}
	d, st, _, err := c.conn.GetW(path)
	if err == nil {
		c.addWatch(watchData, path)
	}
	return d, st, err
}

func (c *Client) addWatch(k watchKind, path string) {
	c.mu.Lock()
	c.watches.add(k, path)
	c.mu.Unlock()
}

// visitSubTree is ZKUtil.visitSubTreeDFS: read path's data (so a missing
// root is an error), visit it, then for each level visit the sorted
// children before descending into each. Children that vanish meanwhile
// are skipped.
func (c *Client) visitSubTree(path string, watch bool, visit func(string) error) error {
	if _, _, err := c.getData(path, watch); err != nil {
		return zkErr(err, path)
	}
	if err := visit(path); err != nil {
		return err
	}
	return c.visitChildren(path, watch, visit, 0)
}

// maxDepth bounds visitChildren's recursion; ZooKeeper paths are far
// shallower than this in practice (the path length limit is ~1MB).
const maxDepth = 10000

func (c *Client) visitChildren(path string, watch bool, visit func(string) error, depth int) error {
	if depth > maxDepth {
		return &Error{Kind: KindZK, Msg: "tree deeper than " + strconv.Itoa(maxDepth) + " at " + path}
	}
	children, _, err := c.children(path, watch)
	if err != nil {
		if codeOf(err) == tree.CodeNoNode {
			return nil
		}
		return zkErr(err, path)
	}
	sort.Strings(children)
	prefix := path + "/"
	if path == "/" {
		prefix = "/"
	}
	for _, ch := range children {
		if err := visit(prefix + ch); err != nil {
			return err
		}
	}
	for _, ch := range children {
		if err := c.visitChildren(prefix+ch, watch, visit, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func runCreate(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("create")
	}
	hasE, hasS, hasC, hasT := p.has('e'), p.has('s'), p.has('c'), p.has('t')
	if hasC && (hasE || hasS) {
		return usageErr("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	var ttl int64
	if hasT {
		v, err := strconv.ParseInt(p.opts['t'], 10, 64)
		if err != nil {
			return usageErr("-t argument must be a long value")
		}
		ttl = v
	}
	if hasT && hasE {
		return usageErr("TTLs cannot be used with Ephemeral znodes")
	}
	if hasT && hasC {
		return usageErr("TTLs cannot be used with Container znodes")
	}
	var flags int32
	switch {
	case hasE && hasS:
		flags = zk.FlagEphemeralSequential
	case hasE:
		flags = zk.FlagEphemeral
	case hasS && hasT:
		flags = zk.FlagPersistentSequentialWithTTL
	case hasS:
		flags = zk.FlagSequence
	case hasC:
		flags = zk.FlagContainer
	case hasT:
		flags = zk.FlagTTL
	}
	const maxTTL = 0xFFFFFFFFFF // EphemeralType.TTL.maxValue()
	if hasT && (ttl <= 0 || ttl > maxTTL) {
		return usageErr("ttl must be positive and cannot be larger than: %d", int64(maxTTL))
	}
	path := p.args[1]
	if e := checkPath(path, hasS); e != nil {
		return e
	}
	var data []byte
	if len(p.args) > 2 {
		data = []byte(p.args[2])
	}
	acl := zk.WorldACL(zk.PermAll)
	if len(p.args) > 3 {
		acl = ParseACL(p.args[3], c.errw)
	}
	if len(acl) == 0 {
		// The Java client rejects an empty ACL itself, with no path.
		fmt.Fprintln(c.errw, KeeperMessage(tree.CodeInvalidACL, ""))
		return emptyACLErr()
	}
	var created string
	var err error
	switch {
	case hasT:
		created, err = c.conn.CreateTTL(path, data, flags, acl, time.Duration(ttl)*time.Millisecond)
	case hasC:
		created, err = c.conn.CreateContainer(path, data, flags, acl)
	default:
		created, err = c.conn.Create(path, data, flags, acl)
	}
	if err != nil {
		code := codeOf(err)
		if code == tree.CodeInvalidACL {
			fmt.Fprintln(c.errw, KeeperMessage(code, path))
		}
		return zkErr(err, path)
	}
	fmt.Fprintln(c.errw, "Created "+created)
	return nil
}

// javaString is new String(bytes) in UTF-8: malformed input becomes U+FFFD.
func javaString(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }

func runGet(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("get")
	}
	c.retainCompat(p, "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.")
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	data, st, err := c.getData(path, p.has('w'))
	if err != nil {
		return zkErr(err, path)
	}
	var b strings.Builder
	if data == nil {
		b.WriteString("null")
	} else {
		b.WriteString(javaString(data))
	}
	b.WriteByte('\n')
	if p.has('s') {
		WriteStat(&b, st, c.o.Location)
	}
	io.WriteString(c.out, b.String())
	return nil
}

func optVersion(p *parsedArgs) (int32, *Error) {
	if !p.has('v') {
		return -1, nil
	}
	return javaInt(p.opts['v'])
}

func runSet(c *Client, p *parsedArgs) error {
	if len(p.args) < 3 {
		return c.usage("set")
	}
	path := p.args[1]
	version, verr := optVersion(p)
	if verr != nil {
		return verr
	}
	if e := checkPath(path, false); e != nil {
		return e
	}
	st, err := c.conn.Set(path, []byte(p.args[2]), version)
	if err != nil {
		return zkErr(err, path)
	}
	if p.has('s') {
		var b strings.Builder
		WriteStat(&b, st, c.o.Location)
		io.WriteString(c.out, b.String())
	}
	return nil
}

func runStat(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("stat")
	}
	c.retainCompat(p, "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.")
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	var ok bool
	var st *zk.Stat
	var err error
	if p.has('w') {
		ok, st, _, err = c.conn.ExistsW(path)
		if err == nil {
			if ok {
				c.addWatch(watchData, path)
			} else {
				c.addWatch(watchExist, path)
			}
		}
	} else {
		ok, st, err = c.conn.Exists(path)
	}
	if err != nil {
		return zkErr(err, path)
	}
	if !ok {
		return zkErr(zk.ErrNoNode, path)
	}
	var b strings.Builder
	WriteStat(&b, st, c.o.Location)
	io.WriteString(c.out, b.String())
	return nil
}

func runDelete(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("delete")
	}
	if len(p.args) > 2 {
		// zkCli prints the notice and, as it does, ignores the old
		// positional version.
		fmt.Fprintln(c.errw, "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.")
	}
	path := p.args[1]
	version, verr := optVersion(p)
	if verr != nil {
		return verr
	}
	if e := checkPath(path, false); e != nil {
		return e
	}
	if err := c.conn.Delete(path, version); err != nil {
		return zkErr(err, path)
	}
	return nil
}

// listSubTreeBFS is ZKUtil.listSubTreeBFS: root first, then breadth-first
// in the server's child order.
func (c *Client) listSubTreeBFS(root string) ([]string, error) {
	tree := []string{root}
	for i := 0; i < len(tree); i++ {
		node := tree[i]
		children, _, err := c.conn.Children(node)
		if err != nil {
			return nil, zkErr(err, node)
		}
		prefix := node + "/"
		if node == "/" {
			prefix = "/"
		}
		for _, ch := range children {
			tree = append(tree, prefix+ch)
		}
	}
	return tree, nil
}

func runDeleteAll(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("deleteall")
	}
	batch := int32(1000)
	if p.has('b') {
		v, err := strconv.ParseInt(p.opts['b'], 10, 32)
		if err != nil {
			return usageErr("-b argument must be an int value")
		}
		batch = int32(v)
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	nodes, err := c.listSubTreeBFS(path)
	if err != nil {
		return err
	}
	if batch <= 0 {
		for i := len(nodes) - 1; i >= 0; i-- {
			if err := c.conn.Delete(nodes[i], -1); err != nil {
				return zkErr(err, nodes[i])
			}
		}
		return nil
	}
	// Leaves first, in multis of at most batch deletes; zkCli pipelines
	// up to 10 multis, this sends them one at a time.
	var ops []any
	for i := len(nodes) - 1; i >= 0; i-- {
		ops = append(ops, &zk.DeleteRequest{Path: nodes[i], Version: -1})
		if len(ops) == int(batch) || i == 0 {
			if _, err := c.conn.Multi(ops...); err != nil {
				code := codeOf(err)
				kind := KindZK
				if isConnLoss(code) {
					kind = KindConn
				}
				return &Error{Kind: kind, Code: code, Msg: "Failed to delete some node(s) in the subtree!", Err: err}
			}
			ops = nil
		}
	}
	return nil
}

func runGetACL(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("getAcl")
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	acl, st, err := c.conn.GetACL(path)
	if err != nil {
		return zkErr(err, path)
	}
	var b strings.Builder
	for _, a := range acl {
		WriteACL(&b, a)
	}
	if p.has('s') {
		WriteStat(&b, st, c.o.Location)
	}
	io.WriteString(c.out, b.String())
	return nil
}

func runSetACL(c *Client, p *parsedArgs) error {
	if len(p.args) < 3 {
		return c.usage("setAcl")
	}
	path := p.args[1]
	acl := ParseACL(p.args[2], c.errw)
	version, verr := optVersion(p)
	if verr != nil {
		return verr
	}
	if e := checkPath(path, false); e != nil {
		return e
	}
	if len(acl) == 0 && !p.has('R') {
		return emptyACLErr()
	}
	if p.has('R') {
		// zkCli prints each node's failure without a newline on stdout
		// and goes on.
		return c.visitSubTree(path, false, func(node string) error {
			if len(acl) == 0 {
				io.WriteString(c.out, KeeperMessage(tree.CodeInvalidACL, ""))
				return nil
			}
			if _, err := c.conn.SetACL(node, acl, version); err != nil {
				code := codeOf(err)
				if isConnLoss(code) {
					return zkErr(err, node)
				}
				io.WriteString(c.out, KeeperMessage(code, node))
			}
			return nil
		})
	}
	st, err := c.conn.SetACL(path, acl, version)
	if err != nil {
		return zkErr(err, path)
	}
	if p.has('s') {
		var b strings.Builder
		WriteStat(&b, st, c.o.Location)
		io.WriteString(c.out, b.String())
	}
	return nil
}

// emptyACLErr is zkCli's report of the Java client's own empty-ACL check:
// the exception carries no path, so Java prints "null".
func emptyACLErr() *Error {
	return &Error{Kind: KindZK, Code: tree.CodeInvalidACL, Msg: CliMessage(tree.CodeInvalidACL, "null")}
}

func runAddAuth(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("addauth")
	}
	var auth []byte
	if len(p.args) >= 3 {
		auth = []byte(p.args[2])
	}
	if err := c.conn.AddAuth(p.args[1], auth); err != nil {
		return zkErr(err, "")
	}
	return nil
}

func runSync(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("sync")
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	if _, err := c.conn.Sync(path); err != nil {
		code := codeOf(err)
		if isConnLoss(code) {
			return zkErr(err, path)
		}
		// zkCli reports the code on stdout and counts it a success.
		fmt.Fprintf(c.out, "Sync has failed. rc=%d\n", int32(code))
		return nil
	}
	fmt.Fprintln(c.out, "Sync is OK")
	return nil
}

func runAddWatch(c *Client, p *parsedArgs) error {
	if len(p.args) != 2 {
		return c.usage("addWatch")
	}
	mode := tree.WatchModePersistentRecursive
	if p.has('m') {
		switch strings.ToUpper(strings.ReplaceAll(p.opts['m'], "_", "")) {
		case "PERSISTENT":
			mode = tree.WatchModePersistent
		case "PERSISTENTRECURSIVE":
			mode = tree.WatchModePersistentRecursive
		default:
			return c.usage("addWatch")
		}
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	if _, err := c.tap.call(tree.Request{Op: tree.OpAddWatch, Path: path, WatchMode: mode}, c.o.SessionTimeout); err != nil {
		return zkErr(err, path)
	}
	k := watchPersistentRecursive
	if mode == tree.WatchModePersistent {
		k = watchPersistent
	}
	c.addWatch(k, path)
	return nil
}

func runRemoveWatches(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("removewatches")
	}
	path := p.args[1]
	wt := tree.WatcherAny
	switch {
	case p.has('c'):
		wt = tree.WatcherChildren
	case p.has('d'):
		wt = tree.WatcherData
	}
	local := p.has('l')
	if e := checkPath(path, false); e != nil {
		return e
	}
	check, remove := kindsFor(wt)
	c.mu.Lock()
	present := c.watches.has(path, check)
	c.mu.Unlock()
	if !present {
		return &Error{Kind: KindZK, Code: tree.CodeNoWatcher, Msg: KeeperMessage(tree.CodeNoWatcher, path)}
	}
	_, err := c.tap.call(tree.Request{Op: tree.OpRemoveWatches, Path: path, WatcherType: wt}, c.o.SessionTimeout)
	if err != nil && !local {
		return &Error{Kind: KindZK, Code: codeOf(err), Msg: KeeperMessage(codeOf(err), path), Err: err}
	}
	c.mu.Lock()
	evs := c.watches.remove(path, remove)
	c.mu.Unlock()
	if len(evs) == 0 {
		return &Error{Kind: KindZK, Code: tree.CodeNoWatcher, Msg: KeeperMessage(tree.CodeNoWatcher, path)}
	}
	for _, t := range evs {
		c.emit(eventText("SyncConnected", eventName(t), path))
	}
	return nil
}

func runGetEphemerals(c *Client, p *parsedArgs) error {
	path := "/"
	if len(p.args) >= 2 {
		path = p.args[1]
	}
	if e := checkPath(path, false); e != nil {
		return e
	}
	res, err := c.tap.call(tree.Request{Op: tree.OpGetEphemerals, Path: path}, c.o.SessionTimeout)
	if err != nil {
		return zkErr(err, path)
	}
	fmt.Fprintln(c.out, javaList(res.Paths))
	return nil
}

func runGetAllChildrenNumber(c *Client, p *parsedArgs) error {
	if len(p.args) < 2 {
		return c.usage("getAllChildrenNumber")
	}
	path := p.args[1]
	if e := checkPath(path, false); e != nil {
		return e
	}
	res, err := c.tap.call(tree.Request{Op: tree.OpGetAllChildrenNumber, Path: path}, c.o.SessionTimeout)
	if err != nil {
		return zkErr(err, path)
	}
	fmt.Fprintln(c.out, res.Number)
	return nil
}

func runWhoAmI(c *Client, p *parsedArgs) error {
	res, err := c.tap.call(tree.Request{Op: tree.OpWhoAmI}, c.o.SessionTimeout)
	if err != nil {
		return zkErr(err, "")
	}
	var b strings.Builder
	b.WriteString("Auth scheme: User\n")
	for _, id := range res.Identity {
		fmt.Fprintf(&b, "%s: %s\n", id.Scheme, id.ID)
	}
	io.WriteString(c.out, b.String())
	return nil
}

func runVersion(c *Client, p *parsedArgs) error {
	if len(p.args) > 1 {
		return c.usage("version")
	}
	fmt.Fprintln(c.out, "ZooKeeper CLI version: "+Version)
	return nil
}
