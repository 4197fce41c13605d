// The commands of `kubectl pf` and the flags each takes: what main dispatches on and shell
// completion offers. Their texts are in help.ts.
import { GLOBAL_FLAGS, type FlagSpec } from './args.js';
import { COMPLETION_HELP, CONNECT_HELP, CREATE_HELP, FORWARD_HELP, LIST_HELP, VERSION_HELP } from './help.js';

const CONNECT_FLAGS: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: 'address', type: 'string', list: true },
  { name: 'ready-timeout', type: 'string' },
];

export const COMMANDS = {
  connect: { flags: CONNECT_FLAGS, help: CONNECT_HELP },
  forward: {
    flags: [
      ...CONNECT_FLAGS,
      { name: 'selector', short: 'l', type: 'string' },
      { name: 'ttl', type: 'string' },
      { name: 'keep', type: 'boolean' },
    ],
    help: FORWARD_HELP,
  },
  create: {
    flags: [
      ...GLOBAL_FLAGS,
      { name: 'pod', type: 'string' },
      { name: 'selector', short: 'l', type: 'string' },
      { name: 'target', type: 'string' },
      { name: 'port', short: 'p', type: 'string', list: true },
      { name: 'ttl', type: 'string' },
      { name: 'target-namespace', type: 'string' },
      { name: 'dry-run', type: 'string', bareValue: 'client', values: ['client', 'server', 'none'] },
      { name: 'output', short: 'o', type: 'string', values: ['yaml', 'json', 'name'] },
    ],
    help: CREATE_HELP,
  },
  list: {
    flags: [
      ...GLOBAL_FLAGS,
      { name: 'all-namespaces', short: 'A', type: 'boolean' },
      { name: 'output', short: 'o', type: 'string', values: ['yaml', 'json', 'name'] },
    ],
    help: LIST_HELP,
  },
  version: {
    flags: [
      ...GLOBAL_FLAGS,
      { name: 'client', type: 'boolean' },
      { name: 'output', short: 'o', type: 'string', values: ['yaml', 'json'] },
    ],
    help: VERSION_HELP,
  },
  completion: { flags: GLOBAL_FLAGS, help: COMPLETION_HELP },
} satisfies Record<string, { flags: FlagSpec[]; help: string }>;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];
/** For messages: "connect, forward, create, list, version or completion". */
export const COMMAND_LIST = `${COMMAND_NAMES.slice(0, -1).join(', ')} or ${COMMAND_NAMES.at(-1)}`;

/** A command by name; only the table's own entries (`help constructor` is not a command). */
export function commandNamed(name: string | undefined): { name: CommandName; flags: FlagSpec[]; help: string } | undefined {
  if (name === undefined || !Object.hasOwn(COMMANDS, name)) return undefined;
  return { name: name as CommandName, ...COMMANDS[name as CommandName] };
}

/** The global flags that take a value as the next argument, as GLOBAL_FLAGS declares them. */
const GLOBAL_VALUE_FLAGS = new Set(
  GLOBAL_FLAGS.filter((f) => f.type === 'string').flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]),
);

/** Finds the command word, skipping global flags (and their values) in front of it. */
export function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg !== '-') {
      if (GLOBAL_VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}
