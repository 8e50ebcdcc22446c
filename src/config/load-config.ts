/** Reads a JSON or YAML configuration file and validates it, naming the file and the key on error. */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { UsageError } from '../errors/usage-error.js';
import { SchemaError, validate, type Schema } from './config-schema.js';

/** A configuration that cannot be used: exit status 2, like any other usage error. */
export class ConfigError extends UsageError {
  constructor(
    readonly file: string,
    readonly key: string | null,
    detail: string,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${detail}`);
    this.name = 'ConfigError';
  }
}

export function loadConfigFile<T>(file: string, schema: Schema): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, null, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let data: unknown;
  const json = file.endsWith('.json') || /^\s*[{[]/.test(text);
  try {
    data = json ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new ConfigError(file, null, `not valid ${json ? 'JSON' : 'YAML'}${where}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) data = {}; // an empty file means all defaults
  try {
    return validate(data, schema, '') as T;
  } catch (error) {
    if (error instanceof SchemaError) throw new ConfigError(file, error.path, error.message.slice(error.path.length + 2));
    throw error;
  }
}

/**
 * A configuration a privileged daemon acts on must not be writable by anyone it does not trust (as
 * sshd's StrictModes): refused when other users may write it, when a group other than root's may, or
 * when someone other than root or the user running socktrace owns it.
 */
export function checkConfigFileTrust(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (error) {
    throw new ConfigError(file, null, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const mode = `0${(st.mode & 0o777).toString(8)}`;
  const uid = process.getuid?.() ?? 0;
  const fix = `chmod go-w ${file}`;
  if (st.mode & 0o002) throw new ConfigError(file, null, `refused: other users can write it (mode ${mode}); ${fix}`);
  if (st.mode & 0o020 && st.gid !== 0) throw new ConfigError(file, null, `refused: group ${st.gid} can write it (mode ${mode}); ${fix}, or give it to group root`);
  if (st.uid !== 0 && st.uid !== uid) throw new ConfigError(file, null, `refused: owned by uid ${st.uid}, neither root nor this user (uid ${uid}), who could change it; chown root ${file}`);
}
