import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.data.Stat;

/**
 * Curator smoke test: N clients (own sessions) increment a counter znode K
 * times each under InterProcessMutex with get + set-at-version. Exits 0 when
 * the counter is N*K, no set failed and the lock was never held twice.
 * usage: CuratorSmoke HOST:PORT N K
 */
public class CuratorSmoke {
    public static void main(String[] args) throws Exception {
        String hosts = args[0];
        int n = Integer.parseInt(args[1]), k = Integer.parseInt(args[2]);
        AtomicInteger inside = new AtomicInteger(), maxInside = new AtomicInteger(), failures = new AtomicInteger();
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        CuratorFramework setup = client(hosts);
        setup.create().forPath("/curator-counter", "0".getBytes(StandardCharsets.UTF_8));
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                try (CuratorFramework c = client(hosts)) {
                    InterProcessMutex m = new InterProcessMutex(c, "/curator-lock");
                    for (int j = 0; j < k; j++) {
                        if (!m.acquire(30, TimeUnit.SECONDS)) throw new IllegalStateException("lock not acquired in 30s");
                        try {
                            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            Stat st = new Stat();
                            byte[] d = c.getData().storingStatIn(st).forPath("/curator-counter");
                            int v = Integer.parseInt(new String(d, StandardCharsets.UTF_8));
                            try {
                                c.setData().withVersion(st.getVersion()).forPath("/curator-counter",
                                        Integer.toString(v + 1).getBytes(StandardCharsets.UTF_8));
                            } catch (org.apache.zookeeper.KeeperException.BadVersionException e) {
                                failures.incrementAndGet();
                            }
                            inside.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                } catch (Exception e) {
                    errors.add(e.toString());
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join(120_000);
        int counter = Integer.parseInt(new String(setup.getData().forPath("/curator-counter"), StandardCharsets.UTF_8));
        setup.close();
        System.out.printf("{\"counter\": %d, \"want\": %d, \"max_inside\": %d, \"bad_version\": %d, \"errors\": %s}%n",
                counter, n * k, maxInside.get(), failures.get(), errors);
        boolean ok = counter == n * k && maxInside.get() == 1 && failures.get() == 0 && errors.isEmpty();
        System.exit(ok ? 0 : 1);
    }

    static CuratorFramework client(String hosts) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 15000, 10000, new RetryNTimes(3, 200));
        c.start();
        if (!c.blockUntilConnected(20, TimeUnit.SECONDS)) throw new IllegalStateException("no connection in 20s");
        return c;
    }
}
