/** docs/ARCHITECTURE.md's table of the kernel side is the probes/lib/ tree: every file, with its maps. */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it("lists every probes/lib header with the maps it declares, and nothing that is not there", () => {
  const lib = new URL('../../probes/lib/', import.meta.url);
  const actual = Object.fromEntries(
    readdirSync(lib)
      .filter((f) => f.endsWith('.bpf.h'))
      .map((f) => [f, [...readFileSync(new URL(f, lib), 'utf8').matchAll(/^\} (\w+) SEC\("\.maps"\);/gm)].map((m) => m[1]!).sort()]),
  );
  const doc = readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8');
  const documented = Object.fromEntries(
    [...doc.matchAll(/^\| `lib\/([\w.]+)` \| [^|]+\| ([^|]*)\|$/gm)].map((m) => [
      m[1]!,
      [...m[2]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!).filter((name) => !name.startsWith('.')).sort(),
    ]),
  );
  expect(documented).toEqual(actual);
});
