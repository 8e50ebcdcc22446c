/**
 * A small schema for configuration files: every key known, every value typed, every mistake named by
 * its path (log.rateLimit.maxPerKey) so the error can say exactly what to fix.
 */
export type Schema = (
  | { kind: 'object'; fields: Record<string, Schema> }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; orZero?: string }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; of: Schema }
  | { kind: 'size'; min: number; max: number; powerOfTwo?: boolean }
  | { kind: 'listen' }
) & {
  /**
   * The running daemon cannot take a new value on SIGHUP (it is fixed when the kernel side loads): a
   * reload keeps the old one and says a restart is needed. Unset: the value applies live.
   */
  restart?: true;
};

/** Every leaf of a schema by dotted path (log.rateLimit.maxPerKey), in declaration order. */
export function leafPaths(schema: Schema, path = ''): string[] {
  if (schema.kind !== 'object') return [path];
  return Object.entries(schema.fields).flatMap(([k, s]) => leafPaths(s, path ? `${path}.${k}` : k));
}

/** The dotted paths a reload cannot apply (`restart: true` on the field or an object above it). */
export function restartOnlyPaths(schema: Schema, path = '', inherited = false): string[] {
  const restart = inherited || schema.restart === true;
  if (schema.kind !== 'object') return restart ? [path] : [];
  return Object.entries(schema.fields).flatMap(([k, s]) => restartOnlyPaths(s, path ? `${path}.${k}` : k, restart));
}

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** "8M", "512K", "1G", or a plain number of bytes. */
export function parseSizeValue(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+)\s*([KMG]?)i?B?$/i.exec(value.trim());
  if (!m) return null;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** "host:port", "[v6]:port", or "off". */
export function parseListen(value: unknown): { host: string; port: number } | 'off' | null {
  if (value === 'off') return 'off';
  if (typeof value !== 'string') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

export function validate(value: unknown, schema: Schema, path: string): unknown {
  switch (schema.kind) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new SchemaError(path || '(top level)', `expected an object (keys: ${Object.keys(schema.fields).join(', ')}), got ${describe(value)}`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        const field = schema.fields[key];
        const at = path ? `${path}.${key}` : key;
        if (!field) throw new SchemaError(at, `unknown key; known here: ${Object.keys(schema.fields).join(', ')}`);
        out[key] = validate(v, field, at);
      }
      return out;
    }
    case 'int':
    case 'number': {
      const orZero = schema.kind === 'number' ? schema.orZero : undefined;
      if (orZero !== undefined && value === 0) return value;
      const ok = typeof value === 'number' && Number.isFinite(value) && (schema.kind === 'number' || Number.isInteger(value));
      if (!ok || (value as number) < schema.min || (value as number) > schema.max) {
        const what = schema.kind === 'int' ? 'a whole number' : 'a number';
        throw new SchemaError(path, `expected ${orZero !== undefined ? `0 (${orZero}) or ` : ''}${what} from ${schema.min} to ${schema.max}, got ${describe(value)}`);
      }
      return value;
    }
    case 'string':
      if (typeof value !== 'string') throw new SchemaError(path, `expected a string, got ${describe(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new SchemaError(path, `expected true or false, got ${describe(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !schema.values.includes(value)) {
        throw new SchemaError(path, `expected one of ${schema.values.join(', ')}, got ${describe(value)}`);
      }
      return value;
    case 'list':
      if (!Array.isArray(value)) throw new SchemaError(path, `expected a list, got ${describe(value)}`);
      return value.map((v, i) => validate(v, schema.of, `${path}[${i}]`));
    case 'size': {
      const n = parseSizeValue(value);
      const powerOfTwo = n !== null && n > 0 && (n & (n - 1)) === 0;
      if (n === null || n < schema.min || n > schema.max || (schema.powerOfTwo && !powerOfTwo)) {
        const what = schema.powerOfTwo ? 'a power of two' : 'a size';
        throw new SchemaError(path, `expected ${what} like 8M or 4194304 from ${schema.min} to ${schema.max} bytes, got ${describe(value)}`);
      }
      return n;
    }
    case 'listen': {
      const l = parseListen(value);
      if (l === null) throw new SchemaError(path, `expected host:port (e.g. 127.0.0.1:9637) or "off", got ${describe(value)}`);
      return value;
    }
  }
}
