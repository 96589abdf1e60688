// CuratorPeer: a real Curator client that contends with zk-recipes on the same paths, for the
// interop tests (compiled by test/interop/curator.ts).
//
//   java -cp <classpath> CuratorPeer lock CONNECT PATH N HOLD_MS LOGFILE [GOFILE]
//       InterProcessMutex on PATH, N times: acquire, hold HOLD_MS, release.
//   java -cp <classpath> CuratorPeer semaphore CONNECT PATH MAXLEASES N HOLD_MS LOGFILE [GOFILE]
//       InterProcessSemaphoreV2(PATH, MAXLEASES), N times: one lease, hold HOLD_MS, return it.
//   java -cp <classpath> CuratorPeer rwlock CONNECT PATH read|write N HOLD_MS LOGFILE [GOFILE]
//       InterProcessReadWriteLock on PATH, N times its read or write lock: acquire, hold, release.
//   java -cp <classpath> CuratorPeer queue-put CONNECT PATH PREFIX N [GOFILE]
//       DistributedQueue<String> (UTF-8 items) on PATH: puts PREFIX0 .. PREFIX<N-1>, one by one.
//   java -cp <classpath> CuratorPeer queue-consume CONNECT PATH N HOLD_MS LOGFILE [GOFILE]
//       DistributedQueue<String> on PATH with lockPath PATH-locks (at-least-once): appends each
//       item it consumes to LOGFILE ("item <text>"), taking HOLD_MS per item; exits after N items,
//       or after 3 s without an item once at least one came.
//
// Prints "ready" once connected; with GOFILE, starts only once that file exists. Appends to
// LOGFILE "acquire <mono_ns> <epoch_ns> -" right after each acquire returns and
// "release <mono_ns> <epoch_ns> -" right before each release, the format of
// test/fixtures/lock-intervals.ts. mono_ns is System.nanoTime(), CLOCK_MONOTONIC on Linux: the
// clock Node's process.hrtime.bigint() reads, so intervals compare across processes.

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorPeer {
    public static void main(String[] a) throws Exception {
        if (a.length < 1) usage();
        switch (a[0]) {
            case "lock":
                if (a.length < 6) usage();
                try (CuratorFramework c = connect(a[1]); Log log = new Log(a[5])) {
                    InterProcessMutex mutex = new InterProcessMutex(c, a[2]);
                    ready(a.length > 6 ? a[6] : null);
                    for (int i = 0, n = Integer.parseInt(a[3]); i < n; i++) {
                        if (!mutex.acquire(30, TimeUnit.SECONDS)) throw new IllegalStateException("lock: not acquired within 30 s");
                        log.line("acquire");
                        Thread.sleep(Long.parseLong(a[4]));
                        log.line("release");
                        mutex.release();
                    }
                }
                break;
            case "semaphore":
                if (a.length < 7) usage();
                try (CuratorFramework c = connect(a[1]); Log log = new Log(a[6])) {
                    InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(c, a[2], Integer.parseInt(a[3]));
                    ready(a.length > 7 ? a[7] : null);
                    for (int i = 0, n = Integer.parseInt(a[4]); i < n; i++) {
                        Lease lease = sem.acquire(30, TimeUnit.SECONDS);
                        if (lease == null) throw new IllegalStateException("semaphore: no lease within 30 s");
                        log.line("acquire");
                        Thread.sleep(Long.parseLong(a[5]));
                        log.line("release");
                        sem.returnLease(lease);
                    }
                }
                break;
            case "rwlock":
                if (a.length < 7) usage();
                try (CuratorFramework c = connect(a[1]); Log log = new Log(a[6])) {
                    InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, a[2]);
                    InterProcessMutex side = a[3].equals("write") ? rw.writeLock() : rw.readLock();
                    ready(a.length > 7 ? a[7] : null);
                    for (int i = 0, n = Integer.parseInt(a[4]); i < n; i++) {
                        if (!side.acquire(30, TimeUnit.SECONDS)) throw new IllegalStateException("rwlock: not acquired within 30 s");
                        log.line("acquire");
                        Thread.sleep(Long.parseLong(a[5]));
                        log.line("release");
                        side.release();
                    }
                }
                break;
            case "queue-put":
                if (a.length < 5) usage();
                try (CuratorFramework c = connect(a[1])) {
                    DistributedQueue<String> q = QueueBuilder.builder(c, null, UTF8, a[2]).putInBackground(false).buildQueue();
                    q.start();
                    ready(a.length > 5 ? a[5] : null);
                    for (int i = 0, n = Integer.parseInt(a[4]); i < n; i++) q.put(a[3] + i);
                    q.close();
                }
                break;
            case "queue-consume":
                if (a.length < 6) usage();
                try (CuratorFramework c = connect(a[1]); Log log = new Log(a[5])) {
                    int n = Integer.parseInt(a[3]);
                    long holdMs = Long.parseLong(a[4]);
                    java.util.concurrent.atomic.AtomicInteger got = new java.util.concurrent.atomic.AtomicInteger();
                    java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong();
                    QueueConsumer<String> consumer = new QueueConsumer<String>() {
                        @Override public void consumeMessage(String item) throws Exception {
                            log.text("item " + item);
                            Thread.sleep(holdMs);
                            got.incrementAndGet();
                            last.set(System.nanoTime());
                        }
                        @Override public void stateChanged(CuratorFramework client, ConnectionState state) { }
                    };
                    DistributedQueue<String> q = QueueBuilder.builder(c, consumer, UTF8, a[2]).lockPath(a[2] + "-locks").buildQueue();
                    ready(a.length > 6 ? a[6] : null);
                    q.start();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (got.get() < n && System.nanoTime() < deadline
                            && !(got.get() > 0 && System.nanoTime() - last.get() > TimeUnit.SECONDS.toNanos(3))) Thread.sleep(10);
                    q.close();
                }
                break;
            default:
                usage();
        }
        System.exit(0);
    }

    static void usage() {
        System.err.println("usage: CuratorPeer lock CONNECT PATH N HOLD_MS LOGFILE [GOFILE]\n"
                + "       CuratorPeer semaphore CONNECT PATH MAXLEASES N HOLD_MS LOGFILE [GOFILE]\n"
                + "       CuratorPeer rwlock CONNECT PATH read|write N HOLD_MS LOGFILE [GOFILE]\n"
                + "       CuratorPeer queue-put CONNECT PATH PREFIX N [GOFILE]\n"
                + "       CuratorPeer queue-consume CONNECT PATH N HOLD_MS LOGFILE [GOFILE]");
        System.exit(2);
    }

    /** Items as UTF-8 text. */
    static final QueueSerializer<String> UTF8 = new QueueSerializer<String>() {
        @Override public byte[] serialize(String item) { return item.getBytes(StandardCharsets.UTF_8); }
        @Override public String deserialize(byte[] bytes) { return new String(bytes, StandardCharsets.UTF_8); }
    };

    static CuratorFramework connect(String connectString) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connectString)
                .sessionTimeoutMs(6000).connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5)).build();
        c.start();
        if (!c.blockUntilConnected(20, TimeUnit.SECONDS)) throw new IllegalStateException("could not connect to " + connectString);
        return c;
    }

    static void ready(String goFile) throws InterruptedException {
        System.out.println("ready");
        System.out.flush();
        while (goFile != null && !Files.exists(Paths.get(goFile))) Thread.sleep(5);
    }

    /** One line per write, appended. */
    static final class Log implements AutoCloseable {
        private final FileOutputStream out;

        Log(String file) throws IOException { out = new FileOutputStream(file, true); }

        synchronized void text(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        void line(String kind) throws IOException {
            Instant now = Instant.now();
            long mono = System.nanoTime();
            long epoch = now.getEpochSecond() * 1_000_000_000L + now.getNano();
            out.write((kind + " " + mono + " " + epoch + " -\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        @Override public void close() throws IOException { out.close(); }
    }
}
