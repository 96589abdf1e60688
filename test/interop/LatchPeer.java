// LatchPeer: a real Curator LeaderLatch that joins the same election as zk-recipes' LeaderLatch,
// for test/interop-latch.test.ts (compiled by test/interop/curator.ts with the other peers).
//
//   java -cp <classpath> LatchPeer CONNECT PATH ID STOPFILE
//
// Prints "ready" once the latch is started, "leader ID" / "notleader ID" when Curator's listener
// fires, and "view LEADER_ID" each time Curator's own LeaderLatch.getLeader() answer changes
// (polled every 50 ms; "view -" when there is no leader). Closes the latch and exits 0 once
// STOPFILE exists.

import java.nio.file.Files;
import java.nio.file.Paths;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class LatchPeer {
    public static void main(String[] a) throws Exception {
        if (a.length < 4) {
            System.err.println("usage: LatchPeer CONNECT PATH ID STOPFILE");
            System.exit(2);
        }
        String id = a[2];
        try (CuratorFramework c = CuratorFrameworkFactory.builder().connectString(a[0])
                .sessionTimeoutMs(4000).connectionTimeoutMs(10000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5)).build()) {
            c.start();
            c.blockUntilConnected();
            LeaderLatch latch = new LeaderLatch(c, a[1], id, LeaderLatch.CloseMode.NOTIFY_LEADER);
            latch.addListener(new LeaderLatchListener() {
                @Override public void isLeader() { say("leader " + id); }
                @Override public void notLeader() { say("notleader " + id); }
            });
            latch.start();
            say("ready");
            String last = null;
            while (!Files.exists(Paths.get(a[3]))) {
                String view;
                try {
                    Participant p = latch.getLeader();
                    view = p.isLeader() ? p.getId() : "-";
                } catch (Exception e) {
                    view = "?";
                }
                if (!view.equals(last)) { say("view " + view); last = view; }
                Thread.sleep(50);
            }
            latch.close();
        }
    }

    static synchronized void say(String s) { System.out.println(s); System.out.flush(); }
}
