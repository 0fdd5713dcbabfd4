"""Leader election with kazoo's Election recipe.

Three contenders, each with its own session, run for /kazoo-election. The
test waits until one leads, checks no other does, makes it quit (its
leader function returns and its session closes), and repeats until all
three have led once. Exactly one leader at a time, each contender leads
once, every failover within the timeout. Prints one JSON line and exits 0
when all hold, 1 otherwise.

usage: kazoo_election.py HOST:PORT
"""
import json
import logging
import sys
import threading
import time

from kazoo.client import KazooClient

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

hosts = sys.argv[1]
N = 3
FAILOVER_TIMEOUT = 30.0

mu = threading.Condition()
state = {"leaders": [], "current": [], "max_concurrent": 0, "errors": []}
quit_events = [threading.Event() for _ in range(N)]
clients = []


def contender(i, c):
    def lead():
        with mu:
            state["current"].append(i)
            state["leaders"].append(i)
            state["max_concurrent"] = max(state["max_concurrent"], len(state["current"]))
            mu.notify_all()
        quit_events[i].wait(timeout=120)
        with mu:
            state["current"].remove(i)
            mu.notify_all()

    try:
        c.Election("/kazoo-election", "contender-%d" % i).run(lead)
    except Exception as e:
        with mu:
            state["errors"].append(repr(e))
            mu.notify_all()


threads = []
for i in range(N):
    c = KazooClient(hosts=hosts, timeout=15.0)
    c.start(timeout=15.0)
    clients.append(c)
    t = threading.Thread(target=contender, args=(i, c), daemon=True)
    t.start()
    threads.append(t)

failovers = []
for round_ in range(N):
    deadline = time.monotonic() + FAILOVER_TIMEOUT
    with mu:
        while len(state["leaders"]) <= round_ and time.monotonic() < deadline and not state["errors"]:
            mu.wait(timeout=max(0.0, deadline - time.monotonic()))
        if len(state["leaders"]) <= round_:
            state["errors"].append("round %d: no leader within %ss" % (round_, FAILOVER_TIMEOUT))
            break
        leader = state["leaders"][round_]
    started = time.monotonic()
    quit_events[leader].set()
    threads[leader].join(timeout=FAILOVER_TIMEOUT)
    clients[leader].stop()
    failovers.append(round(time.monotonic() - started, 3))

for c in clients:
    c.stop()
    c.close()

result = {
    "leaders": state["leaders"],
    "max_concurrent": state["max_concurrent"],
    "errors": state["errors"],
}
print(json.dumps(result, sort_keys=True))
ok = (sorted(result["leaders"]) == list(range(N)) and result["max_concurrent"] == 1 and not result["errors"])
sys.exit(0 if ok else 1)
