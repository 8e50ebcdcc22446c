/** Option values that could never match or fire are refused with a reason, before anything loads. */
import { describe, expect, it } from 'vitest';
import { parseWatchOptions } from '../../src/commands/options/watch-options.js';
import { UsageError } from '../../src/errors/usage-error.js';

function refusal(argv: string[]): string {
  try {
    parseWatchOptions(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('watch options', () => {
  it('gives a negative value the same clear message whether written --duration -1 or --duration=-1', () => {
    const expected = '--duration: expected a positive number of seconds, got "-1"';
    expect(refusal(['--duration=-1'])).toBe(expected);
    expect(refusal(['--duration', '-1'])).toBe(expected);
    expect(refusal(['--summary', '-0.5'])).toBe('--summary: expected a positive number of seconds, got "-0.5"');
    expect(refusal(['--port', '-80'])).toMatch(/^--port: expected a whole number from 1 to 65535, got "-80"/);
    // An option after a value-taking one is still an option.
    expect(refusal(['--duration', '--port', '80'])).toMatch(/--duration/);
  });

  it('refuses values that can never match or fire, saying why', () => {
    expect(refusal(['--port', '0'])).toMatch(/^--port: expected a whole number from 1 to 65535, got "0" \(port 0 is never a connection's port\)/);
    expect(refusal(['--comm', ''])).toMatch(/^--comm: an empty name matches no process/);
    expect(refusal(['--comm', 'a,,b'])).toMatch(/^--comm: an empty name matches no process/);
    expect(refusal(['--comm', 'a-very-long-process-name'])).toMatch(/^--comm: "a-very-long-process-name" is 24 bytes; the kernel keeps 15 bytes of a process name/);
    expect(refusal(['--threshold', 'fdWarnRatio=2'])).toMatch(/^--threshold: fdWarnRatio must be from 0\.01 to 1 \(a share of RLIMIT_NOFILE\), got "2"/);
    expect(refusal(['--threshold', 'closeWaitMinSockets=0'])).toMatch(/closeWaitMinSockets must be a whole number from 1 to/);
    expect(refusal(['--threshold', 'ephemeralPortShare=1.5'])).toMatch(/ephemeralPortShare must be from 0\.01 to 1/);
    expect(refusal(['--threshold', 'rstStormPerSecond=0'])).toMatch(/rstStormPerSecond must be from 0\.1 to/);
  });

  it('still takes every sensible value', () => {
    const o = parseWatchOptions(['--duration', '1.5', '--port', '1,65535', '--comm', 'nginx', '--threshold', 'fdWarnRatio=1', '--threshold', 'closeWaitAgeSeconds=0']);
    expect(o.durationSeconds).toBe(1.5);
    expect(o.filter.ports).toEqual([1, 65535]);
    expect(o.filter.comms).toEqual(['nginx']);
    expect(o.core.thresholds.fdWarnRatio).toBe(1);
    expect(o.core.thresholds.closeWaitAgeSeconds).toBe(0);
  });
});
