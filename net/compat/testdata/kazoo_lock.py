"""Mutual exclusion with kazoo's Lock recipe.

N workers, each with its own session, take the lock K times each and
increment a counter znode with get + set-at-version. Under a correct lock
no set ever fails with BadVersion, at most one worker is ever inside the
critical section, and the counter ends at N*K. Prints one JSON line and
exits 0 when all hold, 1 otherwise.

usage: kazoo_lock.py HOST:PORT N K
"""
import json
import logging
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

hosts, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
TIMEOUT = 30.0

setup = KazooClient(hosts=hosts, timeout=15.0)
setup.start(timeout=15.0)
setup.ensure_path("/kazoo-lock")
setup.create("/counter", b"0")

state = {"inside": 0, "max_inside": 0, "bad_version": 0, "errors": []}
mu = threading.Lock()


def worker(i):
    c = KazooClient(hosts=hosts, timeout=15.0)
    try:
        c.start(timeout=15.0)
        lock = c.Lock("/kazoo-lock", identifier="worker-%d" % i)
        for _ in range(k):
            if not lock.acquire(timeout=TIMEOUT):
                raise RuntimeError("worker %d: lock not acquired in %ss" % (i, TIMEOUT))
            try:
                with mu:
                    state["inside"] += 1
                    state["max_inside"] = max(state["max_inside"], state["inside"])
                data, stat = c.get("/counter")
                try:
                    c.set("/counter", str(int(data) + 1).encode(), version=stat.version)
                except BadVersionError:
                    with mu:
                        state["bad_version"] += 1
                with mu:
                    state["inside"] -= 1
            finally:
                lock.release()
    except Exception as e:  # reported, not swallowed: makes the run fail
        with mu:
            state["errors"].append(repr(e))
    finally:
        c.stop()
        c.close()


threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=120)
alive = [t.name for t in threads if t.is_alive()]

data, _ = setup.get("/counter")
left = setup.get_children("/kazoo-lock")
setup.stop()
setup.close()

result = {
    "counter": int(data),
    "want": n * k,
    "max_inside": state["max_inside"],
    "bad_version": state["bad_version"],
    "errors": state["errors"],
    "stuck_threads": alive,
    "lock_children_left": left,
}
print(json.dumps(result, sort_keys=True))
ok = (result["counter"] == n * k and result["max_inside"] == 1 and result["bad_version"] == 0
      and not result["errors"] and not alive and not left)
sys.exit(0 if ok else 1)
