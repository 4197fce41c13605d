// Command-line flags the way kubectl users type them (pflag conventions): --name value,
// --name=value, -n value, -nvalue, -n=value, repeated or comma-separated list flags, and `--` to end
// the flags. Pure: no I/O, errors are UsageErrors carrying one line for the user.

/** Bad input from the user: main prints `error: MESSAGE` and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  name: string;
  short?: string;
  /** string flags take a value; boolean flags do not (but accept --flag=true|false). */
  type: 'string' | 'boolean';
  /** A list flag: may repeat, and each value may be a comma-separated list. */
  list?: boolean;
  /** For a string flag that may be given bare (like --dry-run): the value it then means. */
  bareValue?: string;
  /** The values it takes, for shell completion (the command checks them). */
  values?: readonly string[];
}

export type FlagValue = string | boolean | string[];

export interface ParsedArgs {
  flags: Record<string, FlagValue | undefined>;
  positionals: string[];
}

/** The flags every command accepts, as in kubectl. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'namespace', short: 'n', type: 'string' },
  { name: 'kubeconfig', type: 'string' },
  { name: 'context', type: 'string' },
  { name: 'help', short: 'h', type: 'boolean' },
];

/** A negative number is an argument (a bad port, say), not a flag. */
function looksLikeFlag(arg: string): boolean {
  return arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg);
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const flags: Record<string, FlagValue | undefined> = {};
  const positionals: string[] = [];

  const set = (spec: FlagSpec, raw: string | undefined, shown: string): void => {
    if (spec.type === 'boolean') {
      if (raw === undefined || raw === 'true') flags[spec.name] = true;
      else if (raw === 'false') flags[spec.name] = false;
      else throw new UsageError(`invalid value "${raw}" for ${shown}: use true or false`);
      return;
    }
    const value = raw as string;
    if (spec.list) {
      const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
      const prev = flags[spec.name];
      flags[spec.name] = [...(Array.isArray(prev) ? prev : []), ...parts];
    } else {
      flags[spec.name] = value;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!looksLikeFlag(arg)) {
      positionals.push(arg);
      continue;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    let shown: string;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      shown = `--${name}`;
      spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
    } else {
      const short = arg[1] as string;
      shown = `-${short}`;
      spec = byShort.get(short);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${short}' in ${arg}`);
      if (arg.length > 2) inline = arg[2] === '=' ? arg.slice(3) : arg.slice(2);
      if (spec.type === 'boolean' && inline !== undefined && arg[2] !== '=') {
        throw new UsageError(`unknown shorthand flag: '${arg[2]}' in ${arg}`);
      }
    }
    if (spec.type === 'boolean' || inline !== undefined) {
      set(spec, inline, shown);
      continue;
    }
    if (spec.bareValue !== undefined) {
      set(spec, spec.bareValue, shown);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined) throw new UsageError(`flag needs an argument: ${shown}`);
    set(spec, next, shown);
    i++;
  }
  return { flags, positionals };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function listFlag(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v : [];
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}
