// A 3-server ensemble loses the server a lock holder's session is connected to, then gets it
// back: sessions move to the survivors and back, exclusion and one-leader-per-term hold, every
// contender and latch works again by itself. (Scenario and limits: ./ensemble-scenario.ts.)
import { describe, expect } from 'vitest';
import { ensembleScenario } from './ensemble-scenario.js';

describe('ensemble: the connected server is killed and restarted', () => {
  ensembleScenario(
    'ensemble-server-faults.test.ts',
    'kill the server a holder is connected to, then restart it',
    async ({ ensemble, children, tally, recovered, step }) => {
      const quorumLeader = await ensemble.leaderIndex();
      const on = await Promise.all(children.map((c) => ensemble.serverOf(c.sessionId)));
      const victim = on.find((i) => i >= 0 && i !== quorumLeader) ?? on[0]!;
      expect(victim).toBeGreaterThanOrEqual(0);
      step(`kill connected server ${victim}`);
      await ensemble.kill(victim);
      tally.fault();
      await recovered('connected server killed');
      await ensemble.restart(victim);
      tally.fault();
      await recovered('server restarted');
    },
  );
});
