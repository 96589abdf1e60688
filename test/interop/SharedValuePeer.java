// SharedValuePeer: a real Curator SharedValue / SharedCount on the same node as zk-recipes'
// SharedValue / SharedCounter, for test/interop-shared-value.test.ts (compiled by
// test/interop/curator.ts with the other peers).
//
//   java -cp <classpath> SharedValuePeer race CONNECT PATH N
//       SharedValue(PATH, seed "0"), the value a decimal number (what our jsonCodec writes for a
//       number). N increments, each a loop of getVersionedValue() and trySetValue(previous, n+1);
//       prints "wrote <n> <version>" after each success, then "done <conflicts>" (the number of
//       trySetValue calls that returned false).
//   java -cp <classpath> SharedValuePeer echo-value CONNECT PATH
//       SharedValue(PATH, seed empty), UTF-8 text. For each value its listener hears, prints
//       "seen <text>"; answers "ping-<k>" with setValue("pong-<k>") and prints
//       "set pong-<k> <version>"; exits 0 on "stop".
//   java -cp <classpath> SharedValuePeer echo-count CONNECT PATH
//       SharedCount(PATH, seed 0). For each count its listener hears, prints "seen <n>"; answers
//       an odd n with setCount(n + 1) and prints "set <n+1> <version>"; exits 0 on a negative n.
//
// Prints "ready" once the recipe is started. The listeners hand values to the main thread: a
// blocking ZooKeeper call in a listener would block Curator's event thread.

import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.SharedValue;
import org.apache.curator.framework.recipes.shared.SharedValueListener;
import org.apache.curator.framework.recipes.shared.SharedValueReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class SharedValuePeer {
    public static void main(String[] a) throws Exception {
        if (a.length < 3) usage();
        try (CuratorFramework c = CuratorFrameworkFactory.builder().connectString(a[1])
                .sessionTimeoutMs(10000).connectionTimeoutMs(10000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5)).build()) {
            c.start();
            c.blockUntilConnected();
            switch (a[0]) {
                case "race":
                    if (a.length < 4) usage();
                    race(c, a[2], Integer.parseInt(a[3]));
                    break;
                case "echo-value":
                    echoValue(c, a[2]);
                    break;
                case "echo-count":
                    echoCount(c, a[2]);
                    break;
                default:
                    usage();
            }
        }
    }

    static void race(CuratorFramework c, String path, int n) throws Exception {
        try (SharedValue sv = new SharedValue(c, path, bytes("0"))) {
            sv.start();
            say("ready");
            int conflicts = 0;
            for (int i = 0; i < n; i++) {
                for (;;) {
                    VersionedValue<byte[]> v = sv.getVersionedValue();
                    int next = Integer.parseInt(text(v.getValue())) + 1;
                    if (sv.trySetValue(v, bytes(Integer.toString(next)))) {
                        say("wrote " + next + " " + sv.getVersionedValue().getVersion());
                        break;
                    }
                    conflicts++;
                }
            }
            say("done " + conflicts);
        }
    }

    static void echoValue(CuratorFramework c, String path) throws Exception {
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        try (SharedValue sv = new SharedValue(c, path, new byte[0])) {
            sv.getListenable().addListener(new SharedValueListener() {
                @Override public void valueHasChanged(SharedValueReader r, byte[] value) { seen.add(text(value)); }
                @Override public void stateChanged(CuratorFramework client, ConnectionState state) { }
            });
            sv.start();
            say("ready");
            for (;;) {
                String v = seen.take();
                say("seen " + v);
                if (v.equals("stop")) break;
                if (v.startsWith("ping-")) {
                    String pong = "pong-" + v.substring(5);
                    sv.setValue(bytes(pong));
                    say("set " + pong + " " + sv.getVersionedValue().getVersion());
                }
            }
        }
    }

    static void echoCount(CuratorFramework c, String path) throws Exception {
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        try (SharedCount sc = new SharedCount(c, path, 0)) {
            sc.addListener(new SharedCountListener() {
                @Override public void countHasChanged(SharedCountReader r, int n) { seen.add(n); }
                @Override public void stateChanged(CuratorFramework client, ConnectionState state) { }
            });
            sc.start();
            say("ready");
            for (;;) {
                int n = seen.take();
                say("seen " + n);
                if (n < 0) break;
                if (n % 2 != 0) {
                    sc.setCount(n + 1);
                    say("set " + (n + 1) + " " + sc.getVersionedValue().getVersion());
                }
            }
        }
    }

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String text(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

    static synchronized void say(String s) { System.out.println(s); System.out.flush(); }

    static void usage() {
        System.err.println("usage: SharedValuePeer race CONNECT PATH N | echo-value CONNECT PATH | echo-count CONNECT PATH");
        System.exit(2);
    }
}
