/** README's table of daemon configuration keys, as the schema and the defaults make it. */
import { leafPaths, restartOnlyPaths, type Schema } from '../../src/config/config-schema.js';

function schemaAt(schema: Schema, path: string): Schema {
  return path.split('.').reduce((s, k) => (s.kind === 'object' ? s.fields[k]! : s), schema);
}

function valueAt(config: unknown, path: string): unknown {
  return path.split('.').reduce((v, k) => (v as Record<string, unknown>)[k], config);
}

function shownValue(value: unknown, schema: Schema): string {
  if (schema.kind === 'size' && typeof value === 'number') {
    for (const [unit, bytes] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
      if (value % bytes === 0) return `${value / bytes}${unit}`;
    }
  }
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (value === '') return '""';
  return String(value);
}

/** One markdown row a key: `| key | default | on SIGHUP |`. */
export function configKeyRows(schema: Schema, defaults: unknown): string[] {
  const restart = new Set(restartOnlyPaths(schema));
  return leafPaths(schema).map(
    (path) => `| \`${path}\` | \`${shownValue(valueAt(defaults, path), schemaAt(schema, path))}\` | ${restart.has(path) ? 'needs a restart' : 'applies'} |`,
  );
}
