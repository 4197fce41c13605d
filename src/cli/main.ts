// `kubectl pf`: dispatch, help and exit codes. 0 = done, 1 = it failed (API server, listeners),
// 2 = bad arguments or a PortForward that does not exist / cannot be used as asked.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../api/duration.js';
import { boolFlag, GLOBAL_FLAGS, listFlag, parseArgs, stringFlag, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { runConnect, type Output } from './connect.js';
import { buildPortForward, parseDryRun, parseOutput, runCreate } from './create.js';
import { forwardTtl, runForward } from './forward.js';
import { parseForwardArgs } from './forward-target.js';
import { CONNECT_HELP, CREATE_HELP, FORWARD_HELP, ROOT_HELP } from './help.js';
import { apiErrorMessage, loadKube } from './kube.js';
import { parseAddresses, parseForwardPort, parseTargetForwardPort } from './ports.js';

const CONNECT_FLAGS: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: 'address', type: 'string', list: true },
  { name: 'ready-timeout', type: 'string' },
];

const CREATE_FLAGS: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: 'pod', type: 'string' },
  { name: 'selector', short: 'l', type: 'string' },
  { name: 'target', type: 'string' },
  { name: 'port', short: 'p', type: 'string', list: true },
  { name: 'ttl', type: 'string' },
  { name: 'target-namespace', type: 'string' },
  { name: 'dry-run', type: 'string', bareValue: 'client' },
  { name: 'output', short: 'o', type: 'string' },
];

const FORWARD_FLAGS: FlagSpec[] = [
  ...CONNECT_FLAGS,
  { name: 'selector', short: 'l', type: 'string' },
  { name: 'ttl', type: 'string' },
  { name: 'keep', type: 'boolean' },
];

const HELP: Record<string, string> = { connect: CONNECT_HELP, create: CREATE_HELP, forward: FORWARD_HELP };
const FLAGS: Record<string, FlagSpec[]> = { connect: CONNECT_FLAGS, create: CREATE_FLAGS, forward: FORWARD_FLAGS };
const COMMANDS = 'connect, forward or create';

/** A table's own entry only: `help constructor` is not a command. */
function entry<T>(table: Record<string, T>, key: string | undefined): T | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

export interface MainOptions {
  io?: Output;
  /** Ends a `connect` session; by default SIGINT or SIGTERM. */
  stopSignal?: Promise<void>;
  /** Log and survive exceptions that escape a callback during `connect` (the real process does). */
  crashGuard?: boolean;
}

const processIo: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The global flags that take a value as the next argument, as GLOBAL_FLAGS declares them. */
const GLOBAL_VALUE_FLAGS = new Set(
  GLOBAL_FLAGS.filter((f) => f.type === 'string').flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]),
);

/** Finds the command word, skipping global flags (and their values) in front of it. */
function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
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

function kubeFlags(args: ParsedArgs): { kubeconfig?: string; context?: string; namespace?: string } {
  return { kubeconfig: stringFlag(args, 'kubeconfig'), context: stringFlag(args, 'context'), namespace: stringFlag(args, 'namespace') };
}

function defaultStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** --ready-timeout in the API's duration format (30s, 5m, 1h); milliseconds. */
function readyTimeout(text: string): number {
  const seconds = parseDuration(text);
  if (!seconds) throw new UsageError(`invalid --ready-timeout "${text}": use a duration above zero like 30s, 5m or 1h`);
  return seconds * 1000;
}

/** A long-running session: one bad connection or a bug in a callback must not end it. */
function guardCrashes(options: MainOptions, io: Output): void {
  if (!options.crashGuard) return;
  const report = (e: unknown): void => io.err(`internal error (continuing): ${e instanceof Error ? e.message : String(e)}`);
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
}

/** The flags connect and forward share: where to listen and how long to wait for Ready. */
function listening(args: ParsedArgs) {
  const timeout = stringFlag(args, 'ready-timeout');
  return { addresses: parseAddresses(listFlag(args, 'address')), readyTimeoutMs: timeout === undefined ? 60_000 : readyTimeout(timeout) };
}

async function connect(args: ParsedArgs, options: MainOptions, io: Output): Promise<number> {
  const [name, ...portArgs] = args.positionals;
  if (!name) throw new UsageError('NAME is required: kubectl pf connect NAME [LOCAL:]REMOTE ...');
  const ports = portArgs.map(parseForwardPort);
  const listen = listening(args);
  const { kc, namespace } = loadKube(kubeFlags(args));
  guardCrashes(options, io);
  return runConnect({ kc, namespace, name, ports, ...listen, io, stopSignal: options.stopSignal ?? defaultStopSignal() });
}

async function forward(args: ParsedArgs, options: MainOptions, io: Output): Promise<number> {
  const { target, portArgs } = parseForwardArgs(args.positionals, stringFlag(args, 'selector'));
  if (portArgs.length === 0) throw new UsageError('at least one port is required: kubectl pf forward TARGET [LOCAL:]REMOTE[/udp] ...');
  const ports = portArgs.map(parseTargetForwardPort);
  const { ttl } = forwardTtl(stringFlag(args, 'ttl'));
  const listen = listening(args);
  const { kc, namespace } = loadKube(kubeFlags(args));
  guardCrashes(options, io);
  // Ctrl-C from here on: a PortForward created meanwhile is still deleted.
  const stopSignal = options.stopSignal ?? defaultStopSignal();
  return runForward({ kc, namespace, target, ports, ttl, keep: boolFlag(args, 'keep'), ...listen, io, stopSignal });
}

async function create(args: ParsedArgs, io: Output): Promise<number> {
  const [name, ...extra] = args.positionals;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}": create takes one NAME (flags take values as --flag=value)`);
  const dryRun = parseDryRun(stringFlag(args, 'dry-run'));
  const output = parseOutput(stringFlag(args, 'output'));
  const flags = kubeFlags(args);
  // Flags first: a wrong flag is reported even where no kubeconfig is at hand.
  const manifest = buildPortForward({
    name,
    namespace: flags.namespace ?? 'default',
    pod: stringFlag(args, 'pod'),
    selector: stringFlag(args, 'selector'),
    target: stringFlag(args, 'target'),
    ports: listFlag(args, 'port'),
    ttl: stringFlag(args, 'ttl'),
    targetNamespace: stringFlag(args, 'target-namespace'),
  });
  // A client dry run needs no cluster; the namespace still comes from the kubeconfig when there is one.
  let kube: ReturnType<typeof loadKube> | undefined;
  try {
    kube = loadKube(flags);
    manifest.metadata.namespace = kube.namespace;
  } catch (err) {
    if (dryRun !== 'client') throw err;
  }
  return runCreate({ kc: kube?.kc, manifest, dryRun, output, io });
}

/** Runs `kubectl pf ARGS...` and returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  try {
    const { command, rest } = splitCommand(argv);
    if (command === undefined || command === 'help') {
      const args = parseArgs(rest, GLOBAL_FLAGS);
      const topic = command === 'help' ? args.positionals[0] : undefined;
      if (topic !== undefined && !entry(HELP, topic)) throw new UsageError(`unknown command "${topic}": use ${COMMANDS}`);
      if (command === undefined && !boolFlag(args, 'help') && rest.length > 0) {
        throw new UsageError('a command is required: kubectl pf connect|forward|create ... (see kubectl pf --help)');
      }
      io.out(entry(HELP, topic) ?? ROOT_HELP);
      return 0;
    }
    const flags = entry(FLAGS, command);
    if (flags) {
      const args = parseArgs(rest, flags);
      if (boolFlag(args, 'help')) {
        io.out(HELP[command] as string);
        return 0;
      }
      if (command === 'connect') return await connect(args, options, io);
      if (command === 'forward') return await forward(args, options, io);
      return await create(args, io);
    }
    throw new UsageError(`unknown command "${command}" for "kubectl pf": use ${COMMANDS} (see kubectl pf --help)`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}`);
      return 2;
    }
    io.err(`error: ${apiErrorMessage(err)}`);
    return 1;
  }
}

/** The process entry point: bin/kubectl-pf.js, or `tsx src/cli/main.ts`. */
export function runCli(): void {
  void main(process.argv.slice(2), { crashGuard: true }).then((code) => process.exit(code));
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) runCli();
