/** The socktrace command line: dispatches to a command and is the one place errors become exit codes. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors/usage-error.js';
import { status } from './console/stderr-status.js';

const USAGE = `Usage: socktrace <command> [options]

Commands:
  watch      stream TCP events (state changes, RSTs, broken pipes) as JSON lines,
             attributed to the process that owns each socket and to its peer
  snapshot   list every TCP socket now, with owners, rollups and findings
  top        live full-screen view: who leaks, to whom, how fast
  daemon     run unattended: JSON logs, Prometheus metrics, SIGHUP reload
  doctor     check kernel, privileges and backend; say what to do about what is missing

Run 'socktrace <command> --help' for a command's options.`;

type Command = (argv: string[]) => Promise<number>;

// Loaded on demand: a command pays only for its own modules (top's React and Ink stay out of watch).
const COMMANDS: Record<string, () => Promise<Command>> = {
  watch: async () => (await import('./watch-command.js')).watchCommand,
  snapshot: async () => (await import('./snapshot-command.js')).snapshotCommand,
  top: async () => (await import('./top-command.js')).topCommand,
  daemon: async () => (await import('./daemon-command.js')).daemonCommand,
  doctor: async () => (await import('./doctor-command.js')).doctorCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-V') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const load = COMMANDS[command];
    if (!load) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
    return await (await load())(rest);
  } catch (error) {
    status((error as Error).message);
    return error instanceof UsageError ? error.exitCode : 1;
  }
}
