/** The metrics table in packaging/README.md is the daemon's registry: every metric, with its labels. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { servedMetrics } from '../support/served-metrics.js';


it('packaging/README.md lists every metric the daemon serves, with its labels, and no other', () => {
  const served = new Map([...servedMetrics()].map(([name, labels]) => [name, [...labels].sort().join(',')]));
  const text = readFileSync(new URL('../../packaging/README.md', import.meta.url), 'utf8');
  const documented = new Map(
    [...text.matchAll(/^\| `(socktrace_\w+)` \| ([^|]*)\|/gm)].map((m) => [
      m[1]!,
      [...m[2]!.matchAll(/`(\w+)`/g)].map((l) => l[1]!).sort().join(','),
    ]),
  );
  expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(served));
});

it("README's daemon section names every metric the daemon serves, and no other", () => {
  const served = [...servedMetrics().keys()].sort();
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const named = [...new Set([...text.matchAll(/`(socktrace_\w+)[{`]/g)].map((m) => m[1]!))].sort();
  expect(named).toEqual(served);
});
