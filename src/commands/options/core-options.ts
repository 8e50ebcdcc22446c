/** Options shared by commands that run the core: finding thresholds and table limits. */
import { coreConfig, DEFAULT_THRESHOLDS, type CoreConfig, type FindingThresholds } from '../../core/core-config.js';
import { ephemeralPortCount } from '../../inventory/host-settings.js';
import { listValues, parseIntegerIn } from './option-values.js';
import { thresholdProblem } from '../../config/threshold-bounds.js';
import { UsageError } from '../../errors/usage-error.js';

export const CORE_OPTIONS = {
  threshold: { type: 'string', multiple: true },
  'max-sockets': { type: 'string' },
} as const;

export const CORE_USAGE = `  --threshold <name=value>  change a finding threshold (repeatable); names and defaults:
${Object.entries(DEFAULT_THRESHOLDS)
  .map(([k, v]) => `                            ${k}=${v}`)
  .join('\n')}
  --max-sockets <n>         sockets tracked at most (default 262144); beyond it the oldest are
                            evicted, and counted`;

export function parseThresholds(values: string[]): Partial<FindingThresholds> {
  const out: Partial<FindingThresholds> = {};
  for (const item of values) {
    const [name, value, extra] = item.split('=');
    if (!name || value === undefined || extra !== undefined) {
      throw new UsageError(`--threshold: expected name=value, got "${item}"`);
    }
    if (!(name in DEFAULT_THRESHOLDS)) {
      throw new UsageError(`--threshold: unknown threshold "${name}"; known: ${Object.keys(DEFAULT_THRESHOLDS).join(', ')}`);
    }
    const n = value.trim() === '' ? NaN : Number(value);
    const problem = thresholdProblem(name as keyof FindingThresholds, n);
    if (problem) throw new UsageError(`--threshold: ${problem}, got "${value}"`);
    out[name as keyof FindingThresholds] = n;
  }
  return out;
}

export function coreConfigFromOptions(values: { threshold?: string[]; 'max-sockets'?: string }): CoreConfig {
  const maxSockets = values['max-sockets'] === undefined ? undefined : parseIntegerIn('--max-sockets', values['max-sockets'], 1, 50_000_000);
  const ephemeralPorts = ephemeralPortCount();
  return coreConfig({
    ...(maxSockets !== undefined ? { maxSockets } : {}),
    ...(ephemeralPorts !== null ? { ephemeralPorts } : {}),
    thresholds: parseThresholds(listValues(values.threshold)),
  });
}
