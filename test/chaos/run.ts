/**
 * `npm run chaos`: the fault matrix of test/browser/faults.test.ts run once, printed as a table and
 * written to BENCHMARKS.md with the machine described. Exit code 1 when a row is not green.
 * Bounded: one stream, eight faults, about 3 minutes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { FAULTS, FaultRig, GRACE_S, markdownTable, type FaultRow } from './matrix.js';
import { killAll } from '../helpers/processes.js';

const rig = new FaultRig((line) => console.log(line));
const rows: FaultRow[] = [];
let failed = false;
try {
  await rig.start();
  for (const fault of FAULTS) {
    const row = await rig.run(fault);
    rows.push(row);
    const problems = FaultRig.problems(row);
    if (problems.length) failed = true;
    console.log(`${fault.name}: ${problems.length ? problems.join('; ') : 'green'}`);
  }
} finally {
  await rig.stop();
  killAll();
}
const table = markdownTable(rows);
console.log(`\n${table}\n`);

const shaka = JSON.parse(readFileSync(new URL('../../node_modules/shaka-player/package.json', import.meta.url), 'utf8')) as { version: string };
const section = `## Fault matrix (\`npm run chaos\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Debian 12, Node ${process.versions.node}.
One server (reconnect grace ${GRACE_S} s, drain 0), one OBS-like ffmpeg publisher (640x360@30, 2 s GOP)
that reconnects by itself 2 s after a drop, the default 3-rendition ladder. Watching throughout in one
headless Chromium: the bundled hls.js player and Shaka Player ${shaka.version}; for every fault two more
viewers (one of each) open the stream 1 s after it is back and are watched for 12 s. A strict crawler
fetches every URL listed in the master and every media playlist during each fault.
Outage: from the fault until the 360p playlist lists parts of the new encoder run. "to live edge":
seconds after that until the player plays within 2 s of the edge. Green: every stall ≤ outage + 3 s,
both players within 2 s of the edge 10 s after back, both late joiners played ≥ 5 s, the API says
live, exactly one new init and one DISCONTINUITY, no answer other than 200 (held requests that
timed out are counted apart).

${table}
`;
const file = 'BENCHMARKS.md';
let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
const marker = /## Fault matrix[\s\S]*?(?=\n## |$)/;
text = marker.test(text) ? text.replace(marker, section.trimEnd() + '\n') : `${text.trimEnd()}\n\n${section}`;
writeFileSync(file, text);
console.log(`written to ${file}`);
process.exit(failed ? 1 : 0);
