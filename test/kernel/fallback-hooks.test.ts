/**
 * The fallbacks for other kernels, exercised on this one: classic tracepoints instead of tp_btf, socket
 * errors caught at syscall exits where sock:sock_send_length / sock_recv_length are missing, and RSTs sent
 * without a socket seen as the segment's drop where tcp:tcp_send_reset needs a socket (before 6.10).
 */
import { afterEach, expect, it } from 'vitest';
import { FLAG_BITS } from '../../src/backends/native/record-layout.js';
import { endpointOf, startActor, stopAllActors } from '../support/actor.js';
import { describeKernel } from '../support/kernel-gate.js';
import { startTrace, stopAllTraces } from '../support/trace-session.js';

describeKernel('fallback hooks', () => {
  afterEach(async () => {
    await stopAllActors();
    await stopAllTraces();
  });

  it('attributes CLOSE_WAIT and EPIPE with classic tracepoints and syscall-exit errors only', async () => {
    const trace = startTrace({ hooks: 'classic', pretendMissing: ['sock_send_length', 'sock_recv_length'] });
    const modes = Object.fromEntries(trace.info.hooks.map((h) => [h.name, h.mode]));
    expect(modes.inet_sock_set_state).toBe('tracepoint');
    expect(modes.tcp_receive_reset).toBe('tracepoint');
    expect(modes.sock_send_length).toBe('missing');
    expect(modes.sys_exit_write).toBe('tracepoint');
    expect(modes.sys_exit_sendto).toBe('tracepoint');

    const srv = startActor(['server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.5']);
    const { port } = (await srv.ready) as { port: number };
    const cli = startActor(['client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1']);
    const clientEnd = endpointOf((await cli.ready).local);
    const srvDone = await srv.done;

    const closeWait = await trace.waitFor(
      (x) => x.kind === 'state_change' && x.state === 'CLOSE_WAIT' && x.local.port === port,
      5000,
      'CLOSE_WAIT',
    );
    expect(closeWait.owner?.pid).toBe(srv.pid);
    expect(closeWait.task.pid).not.toBe(srv.pid);

    const epipe = await trace.waitFor((x) => x.kind === 'send_error' && x.local.port === port, 5000, 'send_error');
    expect(epipe.errno).toBe(srvDone.errno);
    expect(epipe.owner?.pid).toBe(srv.pid);
    expect(epipe.peer).toEqual(clientEnd);
    // Caught at the syscall's exit, and the socket id is the same one the state changes carried.
    expect(epipe.flags & 0x4).toBe(0x4);
    expect(epipe.sock).toBe(closeWait.sock);
  });

  for (const hooks of ['auto', 'classic'] as const) {
    it(`reports each RST sent without a socket once, from the dropped segment (${hooks} hooks)`, async () => {
      const trace = startTrace({ hooks, pretendMissing: ['tcp_send_reset.no_socket'] });
      const plan = Object.fromEntries(trace.info.hooks.map((h) => [h.name, h]));
      expect(plan.kfree_skb?.mode).toBe(hooks === 'auto' ? 'tp_btf' : 'tracepoint');
      expect(plan.kfree_skb?.why).toMatch(/RSTs sent without a socket/);
      expect(plan.tcp_send_reset?.mode).not.toBe('missing');

      const ports: number[] = [];
      for (const host of ['127.0.0.1', '::1']) {
        const probe = startActor(['server-leak', '--host', host, '--port', '0', '--count', '1', '--hold', '0']);
        const { port } = (await probe.ready) as { port: number };
        await probe.stop();
        const cli = startActor(['client-closed-port', '--host', host, '--port', String(port)]);
        const done = await cli.done;
        expect(done.error).toBe('ECONNREFUSED');
        const sent = await trace.waitFor((x) => x.kind === 'rst_sent' && x.local.port === port, 5000, 'rst_sent');
        expect(sent.noSocket).toBe(true);
        expect(sent.flags & FLAG_BITS.fromDrop).toBe(FLAG_BITS.fromDrop);
        expect(sent.local).toEqual({ addr: host, port });
        if (done.local) expect(sent.peer).toEqual(endpointOf(done.local));
        if (trace.info.rstReasons.length > 0) expect(sent.reason).toBe('NO_SOCKET');
        ports.push(port);
      }
      // Not once from tcp_send_reset and again from the drop.
      await new Promise((r) => setTimeout(r, 300));
      for (const port of ports) {
        expect(trace.events.filter((x) => x.kind === 'rst_sent' && x.local.port === port)).toHaveLength(1);
      }
    });
  }
});
