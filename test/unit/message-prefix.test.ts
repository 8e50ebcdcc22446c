// "socktrace: " is put before what socktrace says on stderr in one place (commands/console/stderr-status.ts):
// a message that carried it too would read "socktrace: socktrace: …" there, and wrong in logs and notes.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const root = join(__dirname, '..', '..');

function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), pattern) : pattern.test(e.name) ? [join(dir, e.name)] : [],
  );
}

it('no message in src/ or native/ starts with "socktrace: " but the one that adds it', () => {
  const sources = [...files(join(root, 'src'), /\.tsx?$/), ...files(join(root, 'native'), /\.(cc|h)$/)];
  expect(sources.length).toBeGreaterThan(50);
  const offenders = sources
    .filter((f) => !f.endsWith(join('commands', 'console', 'stderr-status.ts')))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${relative(root, f)}:${i + 1}` }))
        .filter(({ line }) => /['"`/^]socktrace: /.test(line)),
    )
    .map(({ at }) => at);
  expect(offenders).toEqual([]);
});
