/** Parsing of option values, each failure a UsageError naming the option and the value. */
import { UsageError } from '../../errors/usage-error.js';

/** Values of a repeatable option, each of which may also be a comma-separated list. */
export function listValues(values: string | string[] | undefined): string[] {
  if (values === undefined) return [];
  return (Array.isArray(values) ? values : [values]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Like listValues, but an empty value (`--comm ""`, `a,,b`) is a mistake, not something to skip. */
export function nonEmptyListValues(option: string, values: string | string[] | undefined, why: string): string[] {
  if (values === undefined) return [];
  const items = (Array.isArray(values) ? values : [values]).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (items.some((v) => v === '')) throw new UsageError(`${option}: ${why}`);
  return items;
}

export function parseSeconds(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || text.trim() === '') {
    throw new UsageError(`${option}: expected a positive number of seconds, got "${text}"`);
  }
  return value;
}

export function parseIntegerIn(option: string, text: string, min: number, max: number, why = ''): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option}: expected a whole number from ${min} to ${max}, got "${text}"${why ? ` (${why})` : ''}`);
  }
  return value;
}

/** Sizes such as 8388608, 8M, 512K. */
export function parseSize(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\s*([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${option}: expected a size like 8M or 4194304, got "${text}"`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * unit;
}

export function parseChoice<T extends string>(option: string, text: string | undefined, choices: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${option}: expected one of ${choices.join(', ')}, got "${text}"`);
  }
  return text as T;
}
