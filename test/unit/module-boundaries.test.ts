// The layering the docs promise, held by the imports themselves: the core does no I/O, the event
// source a consumer reads knows neither backend, and only commands import commands.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Every module a file imports: package names as written, relative ones as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => {
    const spec = m[1]!;
    return spec.startsWith('.') ? relative(SRC, normalize(join(dirname(file), spec))).replace(/\.js$/, '') : spec;
  });
}

const files = sourceFiles(SRC).map((f) => ({ path: relative(SRC, f), imports: importsOf(f) }));

describe('module boundaries', () => {
  it('finds the sources and their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.find((f) => f.path === 'commands/main.ts')?.imports).toContain('errors/usage-error');
  });

  it('src/core imports only src/core, the event and timing types and the text escaping: no I/O, no backend', () => {
    const bad = files
      .filter((f) => f.path.startsWith('core/'))
      .flatMap((f) => f.imports.filter((i) => !i.startsWith('core/') && !/^events\/(sock-event|tcp-names|timing-layout|kernel-text)$/.test(i)).map((i) => `${f.path} -> ${i}`));
    expect(bad).toEqual([]);
  });

  it('the backend-neutral event source imports neither backend', () => {
    const source = files.find((f) => f.path === 'backends/event-source.ts')!;
    expect(source.imports.filter((i) => i.startsWith('backends/'))).toEqual([]);
  });

  it('only commands import commands', () => {
    const bad = files
      .filter((f) => !f.path.startsWith('commands/'))
      .flatMap((f) => f.imports.filter((i) => i.startsWith('commands/')).map((i) => `${f.path} -> ${i}`));
    expect(bad).toEqual([]);
  });
});
