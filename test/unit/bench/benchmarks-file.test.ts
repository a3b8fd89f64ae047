import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { END, writeBenchSection } from '../../bench/benchmarks-file.js';

describe('writeBenchSection (BENCHMARKS.md)', () => {
  const file = () => join(mkdtempSync(join(tmpdir(), 'bench-md-')), 'B.md');

  it('replaces what the bench wrote and keeps the notes written below its END', () => {
    const f = file();
    writeFileSync(f, `# B\n\n## One (x)\n\nold table\n\n${END}\n\nmy notes\n\n## Two\n\ntwo\n`);
    writeBenchSection('## One (x)', '## One (x)\n\nnew table\n', f);
    expect(readFileSync(f, 'utf8')).toBe(`# B\n\n## One (x)\n\nnew table\n\n${END}\n\nmy notes\n\n## Two\n\ntwo\n`);
  });

  it('replaces a section without END down to the next heading, then appends a new one at the end', () => {
    const f = file();
    writeFileSync(f, '# B\n\n## One\n\nold table\n\nold text\n\n## Two\n\ntwo\n');
    writeBenchSection('## One', '## One\n\nnew\n', f);
    writeBenchSection('## Three', '## Three\n\nt\n', f);
    writeBenchSection('## Three', '## Three\n\nt2\n', f);
    expect(readFileSync(f, 'utf8')).toBe(`# B\n\n## One\n\nnew\n\n${END}\n\n## Two\n\ntwo\n\n## Three\n\nt2\n\n${END}\n`);
  });

  it("does not take another section's END for its own", () => {
    const f = file();
    writeFileSync(f, `# B\n\n## One\n\nold\n\n## Two\n\ntwo\n\n${END}\n\nnotes of two\n`);
    writeBenchSection('## One', '## One\n\nnew\n', f);
    expect(readFileSync(f, 'utf8')).toBe(`# B\n\n## One\n\nnew\n\n${END}\n\n## Two\n\ntwo\n\n${END}\n\nnotes of two\n`);
  });
});
