/**
 * The real kernel, real processes: a server in the root namespace, its client inside a network
 * namespace this test creates (veth, 198.18.0.0/15 and 2001:2::/48), over IPv4 and IPv6. Every event kind
 * must name the socket's owner and its peer, whatever task the kernel happened to run in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SockEvent } from '../../src/events/sock-event.js';
import { endpointOf, startActor, stopAllActors, type ActorLine } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { useNetnsPeer } from '../support/netns-fixture.js';
import { startTrace, stopAllTraces, type TraceSession } from '../support/trace-session.js';

describeKernel('owner attribution on the running kernel', () => {
  const netns = useNetnsPeer();
  afterEach(async () => {
    await stopAllActors();
    await stopAllTraces();
  });

  // The daemon leaves tcp_destroy_sock unattached, and owner entries then end at the change to CLOSE:
  // every attribution must hold both ways.
  for (const [family, ownersEnd] of [
    ['ipv4', 'destroy'],
    ['ipv6', 'destroy'],
    ['ipv4', 'close'],
    ['ipv6', 'close'],
  ] as const) {
    const traceOptions = ownersEnd === 'close' ? { disabledHooks: ['tcp_destroy_sock'] } : {};
    describe(`${family}, owners ending at ${ownersEnd}`, () => {
      const server = () => (family === 'ipv4' ? netns().hostV4 : netns().hostV6);
      const client = () => (family === 'ipv4' ? netns().nsV4 : netns().nsV6);
      const inNetns = () => ({ prefix: netns().execPrefix });
      const kernelNamesReasons = (trace: TraceSession) => trace.info.rstReasons.length > 0;

      it("attributes the server's ESTABLISHED -> CLOSE_WAIT to the server, though the client's FIN drove it", async () => {
        const trace = startTrace(traceOptions);
        const srv = startActor(['server-leak', '--host', server(), '--port', '0', '--count', '1', '--hold', '10']);
        const { port } = (await srv.ready) as { port: number };
        const cli = startActor(['client-impatient', '--host', server(), '--port', String(port), '--wait', '0'], inNetns());
        const peer = endpointOf((await cli.ready).local);
        await cli.done;
        await srv.next((l) => 'accepted' in l);

        const e = await trace.waitFor(
          (x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port,
          5000,
          'CLOSE_WAIT',
        );
        expect(e.oldState).toBe('ESTABLISHED');
        expect(e.owner?.pid).toBe(srv.pid);
        expect(e.owner?.comm).toMatch(/^python/);
        expect(e.local).toEqual({ addr: server(), port });
        expect(e.peer).toEqual(peer);
        expect(e.peer.addr).toBe(client());
        // The FIN was processed in softirq while the server slept in recv(): not in the owner's task.
        expect(e.task.pid).not.toBe(srv.pid);
        expect(e.family).toBe(family === 'ipv4' ? 4 : 6);
      });

      it('reports the RST sent for a connect to a closed port (NO_SOCKET) and the client receiving it', async () => {
        const trace = startTrace(traceOptions);
        // A port nobody listens on: take an ephemeral one and let it go.
        const probe = startActor(['server-leak', '--host', server(), '--port', '0', '--count', '1', '--hold', '0']);
        const { port } = (await probe.ready) as { port: number };
        await probe.stop();

        const cli = startActor(['client-closed-port', '--host', server(), '--port', String(port)], inNetns());
        const done = await cli.done;
        expect(done.error).toBe('ECONNREFUSED');
        const clientEnd = done.local ? endpointOf(done.local) : undefined;

        const sent = await trace.waitFor((x) => x.kind === 'rst_sent' && x.local.port === port, 5000, 'rst_sent');
        expect(sent.noSocket).toBe(true);
        expect(sent.owner).toBeNull();
        expect(sent.local.addr).toBe(server());
        expect(sent.peer.addr).toBe(client());
        if (clientEnd) expect(sent.peer).toEqual(clientEnd);
        if (kernelNamesReasons(trace)) expect(sent.reason).toBe('NO_SOCKET');

        const received = await trace.waitFor(
          (x) => x.kind === 'rst_received' && x.peer.port === port && x.peer.addr === server(),
          5000,
          'rst_received',
        );
        expect(received.owner?.pid).toBe(cli.pid);
        expect(received.state).toBe('SYN_SENT');
      });

      it('reports an abortive close (SO_LINGER 0): RST sent by the server, received by the client owner', async () => {
        const trace = startTrace(traceOptions);
        const srv = startActor(['server-abort', '--host', server(), '--port', '0']);
        const { port } = (await srv.ready) as { port: number };
        const cli = startActor(['client-hold', '--host', server(), '--port', String(port)], inNetns());
        const clientEnd = endpointOf((await cli.ready).local);
        const cliDone = await cli.done;
        await srv.done;
        expect(cliDone.error).toBe('ECONNRESET');

        const sent = await trace.waitFor(
          (x) => x.kind === 'rst_sent' && x.local.port === port && x.peer.port === clientEnd.port,
          5000,
          'rst_sent',
        );
        expect(sent.owner?.pid).toBe(srv.pid);
        expect(sent.noSocket).toBe(false);
        expect(sent.peer).toEqual(clientEnd);
        if (kernelNamesReasons(trace)) expect(sent.reason).toMatch(/^TCP_(ABORT_ON_LINGER|ABORT_ON_CLOSE|STATE)$/);

        const received = await trace.waitFor(
          (x) => x.kind === 'rst_received' && x.local.port === clientEnd.port,
          5000,
          'rst_received',
        );
        expect(received.owner?.pid).toBe(cli.pid);
        expect(received.peer).toEqual({ addr: server(), port });

        const reset = await trace.waitFor(
          (x) => x.kind === 'recv_error' && x.local.port === clientEnd.port,
          5000,
          'recv_error',
        );
        expect(reset.errno).toBe('ECONNRESET');
        expect(reset.owner?.pid).toBe(cli.pid);
      });

      it('reports EPIPE to the server that writes after its peer went away, with that peer', async () => {
        const trace = startTrace(traceOptions);
        const srv = startActor(['server-late-write', '--host', server(), '--port', '0', '--delay', '0.5']);
        const { port } = (await srv.ready) as { port: number };
        const cli = startActor(
          ['client-impatient', '--host', server(), '--port', String(port), '--wait', '0.1'],
          inNetns(),
        );
        const clientEnd = endpointOf((await cli.ready).local);
        const srvDone = (await srv.done) as ActorLine & { errno: string };

        const e = await trace.waitFor(
          (x) => x.kind === 'send_error' && x.local.port === port && x.errno === srvDone.errno,
          5000,
          `send_error ${srvDone.errno}`,
        );
        expect(srvDone.errno).toBe('EPIPE');
        expect(e.owner?.pid).toBe(srv.pid);
        expect(e.peer).toEqual(clientEnd);
        expect(e.local).toEqual({ addr: server(), port });
      });
    });
  }

  it('on loopback, blames the owner of the socket that received an RST, not the task that sent it', async () => {
    const trace = startTrace({ disabledHooks: ['tcp_destroy_sock'] }); // owners ending at close, as in the daemon
    const srv = startActor(['server-abort', '--host', '127.0.0.1', '--port', '0']);
    const { port } = (await srv.ready) as { port: number };
    const cli = startActor(['client-hold', '--host', '127.0.0.1', '--port', String(port)]);
    const clientEnd = endpointOf((await cli.ready).local);
    await cli.done;
    const received: SockEvent = await trace.waitFor(
      (x) => x.kind === 'rst_received' && x.local.port === clientEnd.port,
      5000,
      'rst_received',
    );
    expect(received.owner?.pid).toBe(cli.pid);
    // On loopback the RST is processed inside the sender's close() (the server), or by ksoftirqd when
    // softirqs are deferred (a slow, emulated CPU): whichever task ran, it is not the owner.
    expect(received.task.pid).not.toBe(cli.pid);
  });
});
