/**
 * Which findings changed since the last look: a finding is logged when it first appears, when it
 * escalates (warning to critical) or eases, and when it clears, not again at every summary. A finding
 * is the same one while its kind and subject are. Pure: the caller brings the findings.
 */
import type { Finding } from '../core/summary-model.js';

export type FindingChange = 'appeared' | 'escalated' | 'eased' | 'cleared';

export interface ChangedFinding {
  change: FindingChange;
  finding: Finding;
}

function keyOf(f: Finding): string {
  const s = f.subject;
  return `${f.kind}|${s.pid ?? ''}|${s.comm ?? ''}|${s.peer ?? ''}|${s.port ?? ''}|${s.local ?? ''}`;
}

export class FindingChanges {
  private current = new Map<string, Finding>();

  /** The changes from the findings seen last time to these, appeared and escalated first. */
  update(findings: readonly Finding[]): ChangedFinding[] {
    const next = new Map(findings.map((f) => [keyOf(f), f]));
    const changes: ChangedFinding[] = [];
    for (const [key, f] of next) {
      const before = this.current.get(key);
      if (!before) changes.push({ change: 'appeared', finding: f });
      else if (before.severity !== f.severity) changes.push({ change: f.severity === 'critical' ? 'escalated' : 'eased', finding: f });
    }
    for (const [key, f] of this.current) if (!next.has(key)) changes.push({ change: 'cleared', finding: f });
    this.current = next;
    return changes;
  }
}
