import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { matchesFilter } from '../../src/events/event-filter.js';
import { parseWatchOptions } from '../../src/commands/options/watch-options.js';
import { buildBatch } from '../support/record-builder.js';

const { events } = decodeBatch(
  buildBatch([
    { kind: 'state_change', ownerPid: 10, ownerComm: 'api', local: ['198.18.0.1', 8080], peer: ['198.18.0.2', 50000], oldState: 1, state: 8 },
    { kind: 'send_error', ownerPid: 10, ownerComm: 'api', local: ['198.18.0.1', 8080], peer: ['198.18.9.9', 50001], err: 32 },
    { kind: 'rst_sent', local: ['198.18.0.1', 9999], peer: ['198.18.0.2', 50002], reason: 1, flags: 1 },
    { kind: 'destroy', ownerPid: 11, ownerComm: 'worker', family: 6, local: ['2001:2::1', 443], peer: ['2001:2::2', 50003] },
  ]),
  4,
);
const pick = (argv: string[]) =>
  events.filter((e) => matchesFilter(e, parseWatchOptions(argv).filter)).map((e) => e.peer.port);

describe('watch filters', () => {
  it('prints every kind but destroy by default', () => {
    expect(pick([])).toEqual([50000, 50001, 50002]);
    expect(pick(['--events', 'destroy,rst_sent'])).toEqual([50002, 50003]);
  });

  it('--pid and --comm match the owner, never the task that happened to run', () => {
    expect(pick(['--pid', '10'])).toEqual([50000, 50001]);
    expect(pick(['--pid', '11', '--events', 'destroy'])).toEqual([50003]);
    expect(pick(['--comm', 'api'])).toEqual([50000, 50001]);
    expect(pick(['--comm', 'nobody'])).toEqual([]);
  });

  it('--port matches the local or the peer port; values of one flag are alternatives', () => {
    expect(pick(['--port', '9999'])).toEqual([50002]);
    expect(pick(['--port', '50001,50002'])).toEqual([50001, 50002]);
    expect(pick(['--port', '50000', '--port', '50002'])).toEqual([50000, 50002]);
  });

  it('--peer takes addresses and ranges; different flags must all match', () => {
    expect(pick(['--peer', '198.18.0.2'])).toEqual([50000, 50002]);
    expect(pick(['--peer', '198.18.0.0/16'])).toEqual([50000, 50001, 50002]);
    expect(pick(['--peer', '198.18.0.0/16', '--pid', '10', '--port', '50001'])).toEqual([50001]);
    expect(pick(['--peer', '2001:2::/48', '--events', 'destroy'])).toEqual([50003]);
  });
});

describe('watch options refuse bad input, naming the option and the value', () => {
  it.each([
    [['--pid', 'abc'], /--pid: expected a whole number .* got "abc"/],
    [['--pid', '0'], /--pid: expected a whole number from 1/],
    [['--port', '70000'], /--port: .* got "70000"/],
    [['--peer', '300.1.1.1'], /--peer: "300.1.1.1" is not an IP address/],
    [['--duration=-1'], /--duration: expected a positive number of seconds, got "-1"/],
    [['--duration', 'soon'], /--duration: .* got "soon"/],
    [['--events', 'state_change,bogus'], /--events: unknown event kind "bogus"/],
    [['--ring-bytes', '3000'], /--ring-bytes: expected a power of two/],
    [['--hooks', 'kprobe'], /--hooks: expected one of auto, classic, got "kprobe"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /Unexpected argument 'stray'|positional/i],
  ])('%j', (argv, message) => {
    expect(() => parseWatchOptions(argv)).toThrow(message);
  });

  it('accepts sizes with units', () => {
    expect(parseWatchOptions(['--ring-bytes', '16M']).ringBytes).toBe(16 * 1024 * 1024);
    expect(parseWatchOptions(['--duration', '0.5']).durationSeconds).toBe(0.5);
  });
});
