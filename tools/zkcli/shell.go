package zkcli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// builtins are the shell's own commands (ZooKeeperMain's), with their
// usage strings.
var builtins = map[string]string{
	"close": "", "connect": "host:port", "history": "", "printwatches": "on|off",
	"quit": "", "redo": "cmdno",
}

// maxLineBytes bounds one shell line (a set can carry up to 1MB of data).
const maxLineBytes = 4 << 20

// writeUsage prints ZooKeeperMain.usage(): the invocation line and every
// command with its options, sorted by name.
func writeUsage(w io.Writer) {
	lines := map[string]string{}
	for name, u := range builtins {
		lines[name] = u
	}
	for _, c := range Commands() {
		lines[c.Name] = c.Usage
	}
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("ZooKeeper -server host:port -client-configuration properties-file cmd args\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t%s %s\n", n, lines[n])
	}
	io.WriteString(w, b.String())
}

// shell is one interactive session: the current client (replaced by
// connect, nil after a failed connect), history and the prompt counter.
// Single goroutine.
type shell struct {
	o       Options
	c       *Client
	prompt  bool
	history map[int]string
	count   int
	lastErr error
	quit    bool
}

// Shell runs zkCli's interactive mode: it connects, prints zkCli's banner,
// then executes in's lines one by one until EOF or quit, printing watch
// events as they arrive. With prompt set it prints zkCli's JLine prompt
// "[zk: host(STATE) n] " before each line. It returns the last command's
// error (zkCli exits with that command's code), or the connection error.
func Shell(o Options, in io.Reader, prompt bool) error {
	o.fill()
	fmt.Fprintf(o.Out, "Connecting to %s\n", o.Server)
	c, err := Dial(o)
	if err != nil {
		return err
	}
	s := &shell{o: o, c: c, prompt: prompt, history: map[int]string{}}
	defer func() {
		if s.c != nil {
			s.c.Close()
		}
	}()
	// zkCli's banner; zabctl has no line editing or history (JLine's),
	// so it never claims them.
	if prompt {
		fmt.Fprintln(c.out, "Welcome to ZooKeeper!\nJLine support is disabled: no line editing or history here (rlwrap zabctl gives both)")
	} else {
		fmt.Fprintln(c.out, "Welcome to ZooKeeper!\nJLine support is disabled")
	}
	c.ShowEvents()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	for !s.quit {
		if prompt {
			fmt.Fprint(s.outw(), s.promptText())
		}
		if !sc.Scan() {
			break
		}
		s.executeLine(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return &Error{Kind: KindUsage, Msg: "reading commands: " + err.Error(), Err: err}
	}
	return silenced(s.lastErr)
}

// silenced returns err with its message dropped: the shell has printed it.
func silenced(err error) error {
	if err == nil {
		return nil
	}
	var ze *Error
	if errors.As(err, &ze) {
		return &Error{Kind: ze.Kind, Code: ze.Code, Err: ze}
	}
	return &Error{Kind: KindZK, Err: err}
}

func (s *shell) outw() io.Writer {
	if s.c != nil {
		return s.c.out
	}
	return s.o.Out
}

func (s *shell) errw() io.Writer {
	if s.c != nil {
		return s.c.errw
	}
	return s.o.Err
}

func (s *shell) promptText() string {
	state := "CLOSED"
	if s.c != nil && s.c.Connected() {
		state = "CONNECTED"
	} else if s.c != nil && !s.c.isClosing() {
		state = "CONNECTING"
	}
	return fmt.Sprintf("[zk: %s(%s) %d] ", s.o.Server, state, s.count)
}

func (c *Client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (s *shell) executeLine(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	words := SplitLine(line)
	s.history[s.count] = line
	s.process(words)
	s.count++
}

// process runs one command line and records its outcome as lastErr,
// printing a failure as zkCli does.
func (s *shell) process(words []string) {
	err := s.dispatch(words)
	if s.quit {
		return // quit keeps the previous command's outcome as the exit status
	}
	s.lastErr = err
	if err == nil {
		return
	}
	var ze *Error
	if errors.As(err, &ze) && ze.Msg == "" {
		return
	}
	if errors.As(err, &ze) && ze.Msg == errNotConnected.Error() {
		fmt.Fprintln(s.outw(), ze.Msg) // zkCli prints it on stdout
		return
	}
	fmt.Fprintln(s.errw(), err.Error())
}

func (s *shell) dispatch(words []string) error {
	name := words[0]
	if name == "help" {
		// zkCli answers help as an unknown command (its usage, then
		// "Command not found"); the list alone is what was asked for.
		writeUsage(s.outw())
		return nil
	}
	if _, ok := builtins[name]; !ok && name != "exit" && Lookup(name) == nil {
		writeUsage(s.errw())
		return &Error{Kind: KindUsage, Msg: "Command not found: Command not found " + name}
	}
	switch name {
	case "quit", "exit":
		if s.c != nil {
			s.c.closeWithEvent()
		}
		s.quit = true
		return nil
	case "redo":
		if len(words) < 2 {
			break
		}
		i, err := strconv.ParseInt(words[1], 0, 32)
		if err != nil || int(i) < 0 || int(i) >= s.count {
			return usageErr("Command index out of range")
		}
		again := SplitLine(s.history[int(i)])
		if len(again) > 0 && again[0] == "redo" {
			return usageErr("No redoing redos")
		}
		s.history[s.count] = s.history[int(i)]
		return s.dispatch(again)
	case "history":
		var b strings.Builder
		for i := s.count - 10; i <= s.count; i++ {
			if i >= 0 {
				fmt.Fprintf(&b, "%d - %s\n", i, s.history[i])
			}
		}
		io.WriteString(s.outw(), b.String())
		return nil
	case "printwatches":
		if s.c == nil {
			break
		}
		s.c.mu.Lock()
		if len(words) == 1 {
			on := s.c.printWatches
			s.c.mu.Unlock()
			state := "off"
			if on {
				state = "on"
			}
			fmt.Fprintf(s.outw(), "printwatches is %s\n", state)
			return nil
		}
		s.c.printWatches = words[1] == "on"
		s.c.mu.Unlock()
		return nil
	case "close":
		if s.c != nil {
			s.c.closeWithEvent()
		}
		return nil
	case "connect":
		server := s.o.Server
		if len(words) >= 2 {
			server = words[1]
		}
		if s.c != nil {
			s.c.closeWithEvent()
			s.c = nil
		}
		o := s.o
		o.Server = server
		c, err := Dial(o)
		if err != nil {
			return err
		}
		s.o.Server, s.c = server, c
		c.ShowEvents()
		return nil
	}
	if _, ok := builtins[name]; ok {
		return nil // a builtin missing its argument does nothing, as in zkCli
	}
	if s.c == nil {
		return &Error{Kind: KindConn, Msg: errNotConnected.Error()}
	}
	return s.c.Exec(words)
}

// closeWithEvent closes the session and prints the Closed event the Java
// client delivers on close.
func (c *Client) closeWithEvent() {
	if c.isClosing() {
		return
	}
	c.Close()
	c.emit(eventText("Closed", "None", ""))
}
