#!/usr/bin/env node
// A sick service on loopback, to try socktrace on: for --seconds (default 10), over and over,
//  - a slow server whose impatient client gives up: CLOSE_WAIT, an RST, then EPIPE on the late write;
//  - a server that never closes what its clients closed (CLOSE_WAIT leak);
//  - an abortive close (SO_LINGER 0): RST sent, ECONNRESET for the client;
//  - a connect to a closed port: RST with reason NO_SOCKET.
// Every process is a separate python3 test/workloads/tcp_actor.py, so owners have their own pids.
//
//   node scripts/demo-workload.mjs [--seconds 10]      (and, meanwhile: npx socktrace watch)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const actorPath = fileURLToPath(new URL('../test/workloads/tcp_actor.py', import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 3600)) {
  console.error('demo-workload: --seconds must be a number in (0, 3600]');
  process.exit(2);
}

function actor(...args) {
  const child = spawn('python3', [actorPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const first = (key) =>
    new Promise((resolve, reject) => {
      lines.on('line', (l) => {
        const o = JSON.parse(l);
        if (o.error && !o.ready && !o.done) reject(new Error(`${args[0]}: ${o.error}`));
        if (o[key]) resolve(o);
      });
      child.on('exit', () => reject(new Error(`${args[0]} exited before "${key}"`)));
    });
  const ready = first('ready');
  const done = first('done');
  // Not every caller waits for both; a failure still surfaces where it is awaited.
  ready.catch(() => {});
  done.catch(() => {});
  return { pid: child.pid, ready, done };
}

async function slowServerImpatientClient() {
  const srv = actor('server-late-write', '--host', '127.0.0.1', '--port', '0', '--delay', '0.5');
  const { port } = await srv.ready;
  actor('client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0.1');
  const done = await srv.done;
  return `slow server pid ${srv.pid}: ${done.errno} after its client left`;
}

async function leakingServer() {
  const srv = actor('server-leak', '--host', '127.0.0.1', '--port', '0', '--count', '3', '--hold', '2');
  const { port } = await srv.ready;
  for (let i = 0; i < 3; i++) actor('client-impatient', '--host', '127.0.0.1', '--port', String(port), '--wait', '0');
  await srv.done;
  return `leaking server pid ${srv.pid}: held 3 CLOSE_WAIT sockets for 2 s`;
}

async function abortiveClose() {
  const srv = actor('server-abort', '--host', '127.0.0.1', '--port', '0');
  const { port } = await srv.ready;
  const cli = actor('client-hold', '--host', '127.0.0.1', '--port', String(port));
  const done = await cli.done;
  return `aborting server pid ${srv.pid}: client pid ${cli.pid} got ${done.error}`;
}

async function closedPort() {
  // A port that was just free: listen on an ephemeral one and close it again.
  const port = await new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
  const cli = actor('client-closed-port', '--host', '127.0.0.1', '--port', String(port));
  const done = await cli.done;
  return `client pid ${cli.pid} to closed port ${port}: ${done.error}`;
}

const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const results = await Promise.all([slowServerImpatientClient(), leakingServer(), abortiveClose(), closedPort()]);
  for (const r of results) console.log(r);
}
