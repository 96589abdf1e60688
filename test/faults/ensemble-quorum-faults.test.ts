// A 3-server ensemble loses its quorum (the leader and a follower die), stays without one until
// every contender has noticed, then regains it when one server comes back: sessions are
// suspended, not lost (the outage is shorter than the session timeout), exclusion and
// one-leader-per-term hold, and every contender and latch works again by itself. Then the third
// server comes back, and the server one contender is connected to dies: a kill after restarts.
// (Scenario and limits: ./ensemble-scenario.ts.)
import { describe } from 'vitest';
import { waitUntil } from '../helpers.js';
import { ensembleScenario } from './ensemble-scenario.js';

describe('ensemble: quorum lost briefly, then regained', () => {
  ensembleScenario(
    'ensemble-quorum-faults.test.ts',
    'kill the leader and a follower, then restart one',
    async ({ ensemble, children, tally, log, recovered, step }) => {
      const leader = await ensemble.leaderIndex();
      const follower = [0, 1, 2].find((i) => i !== leader)!;
      step(`kill quorum leader ${leader} and follower ${follower}`);
      const at = Date.now();
      await Promise.all([ensemble.kill(leader), ensemble.kill(follower)]);
      tally.fault();
      // Without quorum no request can succeed: every contender's session suspends.
      const suspended = (n: string) => log().some((l) => l.ev === 'state' && l.name === n && l.t >= at && l.state === 'suspended');
      await waitUntil(() => children.every((c) => suspended(c.name)), 'every contender suspended without quorum', 30_000);
      step(`restart ${follower}: quorum regained`);
      await ensemble.restart(follower);
      await ensemble.waitForQuorum();
      await recovered('quorum regained');
      step(`restart ${leader}: all three back`);
      await ensemble.restart(leader);
      tally.fault();
      await recovered('third server back');
      // A kill after restarts: sessions move once more.
      const victim = await ensemble.serverOf(children[0]!.sessionId);
      step(`kill server ${victim}, c0's`);
      await ensemble.kill(victim);
      tally.fault();
      await recovered('a restarted ensemble loses a server again');
    },
  );
});
