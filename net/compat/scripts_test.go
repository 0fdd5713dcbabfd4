package compat

import "strings"

// allScripts lists the differential scripts. Each starts on a fresh server;
// sessions s0, s1, ... open on first use with a 30s timeout.
func allScripts() []script {
	return append(append(baseScripts(), moreScripts()...), malformedScript())
}

func baseScripts() []script {
	return []script{
		{name: "create-modes", steps: []step{
			create(0, "/p", "d", modePersistent),
			create1(0, "/p1", "", modePersistent),
			create(0, "/p/e", "eph", modeEphemeral),
			create(0, "/p/s-", "", modePersistentSeq),
			create(0, "/p/s-", "", modePersistentSeq),
			create(0, "/p/es-", "", modeEphemeralSeq),
			create1(0, "/p/es-", "", modeEphemeralSeq),
			create(0, "/p/", "", modePersistentSeq), // sequential name right after the slash
			create(1, "/p/other-", "", modeEphemeralSeq),
			create(0, "/p/c", "", modeContainer),
			createContainer(0, "/p/c2", "x", modeContainer),
			createContainer(0, "/p/c3", "x", modePersistent),
			createTTL(0, "/p/ttl", "t", modeTTL, 60000),
			createTTL(0, "/p/ttls-", "t", modeTTLSeq, 60000),
			createTTL(0, "/p/ttl0", "t", modeTTL, 0),
			createTTL(0, "/p/ttlneg", "t", modeTTL, -5),
			createTTL(0, "/p/ttlbig", "t", modeTTL, 1<<40),
			createTTL(0, "/p/ttlnotttl", "t", modePersistent, 60000),
			create(0, "/p/ttlwithcreate", "t", modeTTL),
			create(0, "/p/badflags", "", 7),
			create(0, "/p/negflags", "", -1),
			children2(0, "/p", false),
			get(0, "/p/e", false),
			get(0, "/p/c", false),
			get(0, "/p/ttl", false),
			exists(0, "/p/ttls-0000000013", false),
			get(0, "/p1", false),
			create(0, "/nulldata", "", modePersistent),
			rawOp(0, opCreate2, func() []byte {
				var e enc
				e.str("/nullbuf")
				e.buf(nil)
				e.acls(openACL)
				e.i32(0)
				return e.b
			}(), `create2 "/nullbuf" data=null persistent`),
			get(0, "/nullbuf", false),
			allChildren(0, "/p"),
			allChildren(0, "/"),
			allChildren(0, "/missing"),
		}},
		{name: "create-errors", steps: []step{
			create(0, "/a", "", modePersistent),
			create(0, "/a", "", modePersistent),
			create1(0, "/a", "", modePersistent),
			create(0, "/missing/child", "", modePersistent),
			create(0, "/missing/seq-", "", modePersistentSeq),
			create(0, "/e", "", modeEphemeral),
			create(0, "/e/child", "", modePersistent),
			create(0, "/e/child", "", modeEphemeral),
			create(0, "/e/seq-", "", modeEphemeralSeq),
			create(0, "/", "", modePersistent),
			create(0, "/zookeeper", "", modePersistent),
			create(0, "/zookeeper/x", "", modePersistent),
			create(0, "/zookeeper/quota/x", "", modePersistent),
			createACL(0, "/noacl", "", modePersistent, nil),
			createACL(0, "/emptyacl", "", modePersistent, []acl{}),
			createACL(0, "/authacl", "", modePersistent, []acl{{Perms: permAll, Scheme: "auth", ID: ""}}),
			createACL(0, "/badscheme", "", modePersistent, []acl{{Perms: permAll, Scheme: "nosuch", ID: "x"}}),
			createACL(0, "/badip", "", modePersistent, []acl{{Perms: permAll, Scheme: "ip", ID: "300.1.1.1"}}),
			createACL(0, "/baddigest", "", modePersistent, []acl{{Perms: permAll, Scheme: "digest", ID: "nocolon"}}),
			createACL(0, "/badworld", "", modePersistent, []acl{{Perms: permAll, Scheme: "world", ID: "someone"}}),
			createACL(0, "/zeroperms", "", modePersistent, []acl{{Perms: 0, Scheme: "world", ID: "anyone"}}),
			exists(0, "/zeroperms", false),
			children(0, "/", false),
		}},
		{name: "bad-paths", steps: badPathSteps()},
		{name: "delete-and-versions", steps: []step{
			create(0, "/d", "v0", modePersistent),
			create(0, "/d/k", "", modePersistent),
			del(0, "/d", -1),
			del(0, "/d/k", 5),
			del(0, "/d/k", 0),
			del(0, "/d/k", 0),
			del(0, "/nope", -1),
			set(0, "/d", "v1", 0),
			set(0, "/d", "v2", 0),
			set(0, "/d", "v2", -1),
			set(0, "/d", "v3", 2),
			set(0, "/d", "", -2),
			set(0, "/nope", "", -1),
			get(0, "/d", false),
			exists(0, "/d", false),
			exists(0, "/nope", false),
			del(0, "/d", -2),
			del(0, "/d", 3),
			del(0, "/", -1),
			del(0, "/zookeeper", -1),
			del(0, "/zookeeper/quota", -1),
			get(0, "/d", false),
			exists(0, "/", false),
		}},
		{name: "system-nodes", steps: []step{
			exists(0, "/", false),
			get(0, "/", false),
			children2(0, "/", false),
			get(0, "/zookeeper", false),
			children2(0, "/zookeeper", false),
			get(0, "/zookeeper/quota", false),
			children2(0, "/zookeeper/quota", false),
			get(0, "/zookeeper/config", false),
			getACL(0, "/"),
			getACL(0, "/zookeeper"),
			getACL(0, "/zookeeper/config"),
			allChildren(0, "/zookeeper"),
			set(0, "/zookeeper", "x", -1),
			set(0, "/zookeeper/config", "x", -1),
			set(0, "/", "rootdata", -1),
			get(0, "/", false),
			syncStep(0, "/"),
			syncStep(0, "/nope"),
			syncStep(0, "bad"),
		}},
		{name: "session-timeout-negotiation", steps: []step{
			connect(0, 1),
			connect(1, 4000),
			connect(2, 7777),
			connect(3, 40000),
			connect(4, 1000000),
		}},
	}
}

// badPathSteps sends malformed paths to every path-taking op.
func badPathSteps() []step {
	bad := []string{"", "a", "/a/", "//a", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a\x00b", "/\xff\xfe", "/a\u0001", "/a\ud7ff", "/a\uf8ff", "/a\ufff0"}
	var st []step
	st = append(st, create(0, "/a", "", modePersistent))
	for _, p := range bad {
		st = append(st,
			create(0, p, "", modePersistent),
			get(0, p, false),
			exists(0, p, false),
			set(0, p, "", -1),
			del(0, p, -1),
			children(0, p, false),
		)
	}
	// "." and ".." are fine as parts of a longer name.
	st = append(st,
		create(0, "/a/.x", "", modePersistent),
		create(0, "/a/..x", "", modePersistent),
		create(0, "/a/x.", "", modePersistent),
		create(0, "/a/"+strings.Repeat("n", 1000), "", modePersistent),
		create(0, "/a/sp ace", "", modePersistent),
		create(0, "/a/ünï", "", modePersistent),
		children(0, "/a", false),
		create(0, "/a/seq/", "", modePersistentSeq),
		create(0, "/a/", "", modePersistent),
	)
	return st
}
