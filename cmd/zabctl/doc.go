// Command zabctl is the zabd client: Apache ZooKeeper's zkCli.sh commands
// (ls, create, get, set, stat, delete, deleteall, getAcl, setAcl, addauth,
// sync, addWatch, removewatches, getEphemerals, getAllChildrenNumber,
// whoami, version) in one-shot form and as an interactive shell, plus the
// load generator (bench), the log tools (log dump, log verify, log replay,
// log diff, log audit, snapshot dump: tools/logtool on a data dir read
// through tools/logread, with or without a running server, nothing
// written) and data convert (tools/dataconv: a new data dir for another
// engine).
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
// code for every failure), or a log tool found damage (log verify: the
// data dir is not sound; log dump: it stopped at damage, or a record is
// not a txn; log replay and log diff: they met damage; snapshot dump: the
// file is damaged); 2 malformed command
// line; 3 no session (connect failure, connection or session lost); 4 a
// log tool could not read the data dir at all (missing, not a zabd data
// dir, a badger store beside its running server, an I/O error); 5 log
// replay --serve could not listen on its address.
package main
