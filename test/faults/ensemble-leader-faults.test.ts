// A 3-server ensemble loses its quorum leader (a re-election among the two left), then gets it
// back: sessions ride out the election, exclusion and one-leader-per-term hold, every contender
// and latch works again by itself. (Scenario and limits: ./ensemble-scenario.ts.)
import { describe } from 'vitest';
import { ensembleScenario } from './ensemble-scenario.js';

describe('ensemble: the quorum leader is killed and restarted', () => {
  ensembleScenario('ensemble-leader-faults.test.ts', 'kill the quorum leader, then restart it', async ({ ensemble, tally, recovered, step }) => {
    const leader = await ensemble.leaderIndex();
    step(`kill quorum leader ${leader}`);
    await ensemble.kill(leader);
    tally.fault();
    await ensemble.waitForQuorum();
    await recovered('quorum leader killed');
    await ensemble.restart(leader);
    tally.fault();
    await recovered('old leader restarted');
  });
});
