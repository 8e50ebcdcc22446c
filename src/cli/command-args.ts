/**
 * Argument parsing shared by every command: strict, no positionals, -h/--help included, and any
 * mistake becomes a UsageError (exit 2) naming the command.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<const O extends Options>(command: string, argv: string[], options: O) {
  const config = {
    args: argv,
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
