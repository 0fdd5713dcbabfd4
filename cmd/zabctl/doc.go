// Command zabctl is the zabd client: Apache ZooKeeper's zkCli.sh commands
// (ls, create, get, set, stat, delete, deleteall, getAcl, setAcl, addauth,
// sync, addWatch, removewatches, getEphemerals, getAllChildrenNumber,
// whoami, version) in one-shot form and as an interactive shell, plus the
// load generator (bench).
//
//	zabctl -server 127.0.0.1:2181 create /lock x
//	zabctl -server 127.0.0.1:2181 ls -s /
//	echo 'get -s /lock' | zabctl -server 127.0.0.1:2181   # shell, as zkCli.sh
//
// This package is wiring only: flags become a zkcli.Options and the words
// after the command name go to tools/zkcli unparsed (zkCli accepts options
// after positional words, which urfave/cli would not), so the one-shot
// form and the shell parse a command line identically.
//
// Exit codes: 0 success; 1 ZooKeeper refused the operation (zkCli's own
// code for every failure); 2 malformed command line; 3 no session (connect
// failure, connection or session lost).
package main
