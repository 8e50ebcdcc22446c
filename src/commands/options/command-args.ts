/**
 * Argument parsing shared by every command: strict, no positionals, -h/--help included, and any
 * mistake becomes a UsageError (exit 2) naming the command.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../errors/usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `--duration -1` is `--duration=-1`: a value-taking option followed by a negative number takes it
 * (node's parser calls that ambiguous), so the option's own check can say what is wrong with it.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function parseCommandArgs<const O extends Options>(command: string, argv: string[], options: O) {
  const config = {
    args: joinNegativeValues(argv, options),
    strict: true as const,
    allowPositionals: false as const,
    options: { ...options, help: { type: 'boolean' as const, short: 'h' } },
  };
  try {
    return parseArgs(config).values;
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
}
