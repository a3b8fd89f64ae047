/**
 * Writes a bench's section into BENCHMARKS.md. A section is what the bench generates (its heading,
 * method and table), closed by END; the notes people write below END (comparisons, earlier runs,
 * what a figure means) survive the next run. Benches used to replace everything down to the next
 * heading, and a rerun of bench:serve deleted a page of measured notes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Closes the generated part of a section: what follows it is kept on the next run. */
export const END = '<!-- generated above by the bench; notes below are kept on its next run -->';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces the section whose heading starts with `heading` (e.g. `## Viewers per node`) with
 * `section` + END, keeping the notes after the old END; a section without END yet is replaced down
 * to the next heading (as before); a new section is appended.
 */
export function writeBenchSection(heading: string, section: string, file = 'BENCHMARKS.md'): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const generated = `${section.trimEnd()}\n\n${END}\n`;
  const start = text.search(new RegExp(`^${escape(heading)}`, 'm'));
  if (start < 0) {
    writeFileSync(file, `${text.trimEnd()}\n\n${generated}`);
    return;
  }
  const next = text.slice(start + heading.length).search(/\n## /);
  const sectionEnd = next < 0 ? text.length : start + heading.length + next + 1;
  const endMark = text.indexOf(END, start);
  const rest = endMark >= 0 && endMark < sectionEnd ? text.slice(endMark + END.length + 1) : `\n${text.slice(sectionEnd)}`;
  writeFileSync(file, text.slice(0, start) + generated + rest);
}
