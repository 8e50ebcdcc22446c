/** The daemon logs a finding once when it appears, escalates, eases or clears: not at every summary. */
import { expect, it } from 'vitest';
import type { Finding } from '../../src/core/summary-model.js';
import { FindingChanges } from '../../src/daemon/finding-changes.js';

const leak = (severity: Finding['severity'], pid = 100): Finding => ({
  kind: 'close_wait_leak',
  severity,
  title: 't',
  explanation: 'e',
  subject: { pid, comm: 'api' },
  evidence: {},
});

it('says each change once, and nothing while a finding stays as it was', () => {
  const changes = new FindingChanges();
  const kinds = (findings: Finding[]) => changes.update(findings).map((c) => `${c.change} ${c.finding.subject.pid} ${c.finding.severity}`);
  expect(kinds([leak('warning')])).toEqual(['appeared 100 warning']);
  expect(kinds([leak('warning')])).toEqual([]);
  expect(kinds([leak('critical'), leak('warning', 200)])).toEqual(['escalated 100 critical', 'appeared 200 warning']);
  expect(kinds([leak('warning'), leak('warning', 200)])).toEqual(['eased 100 warning']);
  expect(kinds([leak('warning', 200)])).toEqual(['cleared 100 warning']);
  expect(kinds([])).toEqual(['cleared 200 warning']);
  expect(kinds([])).toEqual([]);
});
