/**
 * Decoding and filtering a batch recorded from the real kernel (test/fixtures): a slow server whose
 * impatient client gave up (CLOSE_WAIT, an RST from the client's TIME_WAIT, EPIPE), then a connect to a
 * closed port over IPv6 (NO_SOCKET).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/events/decode-batch.js';
import { matchesFilter } from '../../src/events/event-filter.js';
import { parseWatchOptions } from '../../src/commands/options/watch-options.js';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/late-write-and-refused.json', import.meta.url), 'utf8'),
) as {
  rstReasons: string[];
  server: { pid: number; port: number; errno: string };
  client: { pid: number; local: [string, number] };
  refusedClient: { pid: number; local: [string, number] };
  records: number;
  base64: string;
};
const bytes = Buffer.from(fixture.base64, 'base64');
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
const { events, rejected } = decodeBatch(buffer, fixture.records, { rstReasons: fixture.rstReasons });
const { server, client, refusedClient } = fixture;

describe('a batch recorded from Linux 6.18', () => {
  it('decodes every record', () => {
    expect(rejected).toBe(0);
    expect(events).toHaveLength(fixture.records);
  });

  it("puts the server's CLOSE_WAIT on the server, although the client's task ran it", () => {
    const e = events.find((x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT')!;
    expect(e.owner).toMatchObject({ pid: server.pid, source: 'socket' });
    expect(e.task.pid).toBe(client.pid);
    expect(e.peer).toEqual({ addr: client.local[0], port: client.local[1] });
  });

  it('follows one socket by its id through every state to the EPIPE', () => {
    const closeWait = events.find((x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT')!;
    const story = events.filter((x) => x.sock === closeWait.sock).map((x) => `${x.kind}:${x.state}`);
    expect(story).toEqual([
      'state_change:SYN_RECV',
      'state_change:ESTABLISHED',
      'state_change:CLOSE_WAIT',
      'rst_received:CLOSE_WAIT',
      'state_change:CLOSE',
      'send_error:CLOSE',
      'destroy:CLOSE',
    ]);
    const epipe = events.find((x) => x.kind === 'send_error')!;
    expect(epipe.errno).toBe(server.errno);
    expect(epipe.owner?.pid).toBe(server.pid);
  });

  it('attributes sockets still in the accept queue to the listening process', () => {
    const synRecv = events.find((x) => x.kind === 'state_change' && x.state === 'SYN_RECV')!;
    expect(synRecv.owner).toMatchObject({ pid: server.pid, source: 'listener' });
  });

  it("names the kernel's RST reasons, with no socket for the refused IPv6 connect", () => {
    const resets = events.filter((x) => x.kind === 'rst_sent');
    expect(resets.map((x) => x.reason)).toEqual(['TCP_TIMEWAIT_SOCKET', 'NO_SOCKET']);
    // The client's TIME_WAIT answered the late write: it names the client that closed the connection.
    const clientSocket = events.find((x) => x.kind === 'state_change' && x.state === 'FIN_WAIT1')!;
    expect(resets[0]!.owner).toMatchObject({ pid: client.pid, source: 'closed' });
    expect(resets[0]!.sock).toBe(clientSocket.sock);
    expect(resets[0]!.state).toBe('TIME_WAIT');
    const refused = resets[1]!;
    expect(refused).toMatchObject({ noSocket: true, owner: null, family: 6 });
    expect(refused.local).toEqual({ addr: '::1', port: server.port });
    expect(refused.peer).toEqual({ addr: '::1', port: refusedClient.local[1] });
  });

  it('filters the recording like watch would', () => {
    const pick = (argv: string[]) => events.filter((e) => matchesFilter(e, parseWatchOptions(argv).filter));
    expect(pick(['--pid', String(server.pid), '--events', 'send_error,rst_received']).map((e) => e.kind)).toEqual([
      'rst_received',
      'send_error',
    ]);
    expect(pick(['--peer', '::1/128']).every((e) => e.family === 6)).toBe(true);
    expect(pick(['--peer', '::1/128'])).toHaveLength(4);
    expect(pick(['--comm', 'nobody'])).toHaveLength(0);
  });
});
