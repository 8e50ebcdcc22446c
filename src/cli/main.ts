/** The socktrace command line: dispatches to a command and is the one place errors become exit codes. */
import { readFileSync } from 'node:fs';
import { UsageError } from './usage-error.js';
import { snapshotCommand } from './snapshot-command.js';
import { topCommand } from '../top/top-command.js';
import { watchCommand } from './watch-command.js';

const USAGE = `Usage: socktrace <command> [options]

Commands:
  watch      stream TCP events (state changes, RSTs, broken pipes) as JSON lines,
             attributed to the process that owns each socket and to its peer
  snapshot   list every TCP socket now, with owners, rollups and findings
  top        live full-screen view: who leaks, to whom, how fast

Run 'socktrace <command> --help' for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  watch: watchCommand,
  snapshot: snapshotCommand,
  top: topCommand,
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
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`socktrace: ${error.message}\n`);
      return error.exitCode;
    }
    const e = error as Error & { code?: string };
    process.stderr.write(`${e.message.startsWith('socktrace:') ? '' : 'socktrace: '}${e.message}\n`);
    return 1;
  }
}
