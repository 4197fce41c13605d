// `kubectl pf`: dispatch, help and exit codes. 0 = done, 1 = it failed (API server, listeners),
// 2 = bad arguments or a PortForward that does not exist / cannot be used as asked.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../api/duration.js';
import { boolFlag, GLOBAL_FLAGS, listFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { COMMAND_LIST, commandNamed, splitCommand, type CommandName } from './commands.js';
import { complete, completionLines } from './complete.js';
import { apiLookups } from './complete-lookups.js';
import { completionScript } from './completion-scripts.js';
import { runConnect, type Output } from './connect.js';
import { buildPortForward, parseDryRun, parseOutput, runCreate } from './create.js';
import { forwardTtl, runForward } from './forward.js';
import { parseForwardArgs } from './forward-target.js';
import { ROOT_HELP } from './help.js';
import { apiErrorMessage, loadKube } from './kube.js';
import { runList } from './list.js';
import { parseAddresses, parseForwardPort, parseTargetForwardPort } from './ports.js';
import { parseVersionOutput, runVersion } from './version.js';

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

async function list(args: ParsedArgs, io: Output): Promise<number> {
  if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}": list takes no NAME (use kubectl get portforward NAME)`);
  const output = parseOutput(stringFlag(args, 'output'));
  const { kc, namespace } = loadKube(kubeFlags(args));
  return runList({ kc, namespace, allNamespaces: boolFlag(args, 'all-namespaces'), output, io });
}

async function version(args: ParsedArgs, io: Output): Promise<number> {
  if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}": version takes none`);
  const output = parseVersionOutput(stringFlag(args, 'output'));
  return runVersion({ kube: () => loadKube(kubeFlags(args)).kc, clientOnly: boolFlag(args, 'client'), output, io });
}

/** Shell completion: always exit 0 and nothing on stderr, which kubectl passes to the terminal. */
async function completeWords(words: string[], io: Output): Promise<number> {
  for (const line of completionLines(await complete(words.length ? words : [''], apiLookups))) io.out(line);
  return 0;
}

async function run(command: CommandName, args: ParsedArgs, options: MainOptions, io: Output): Promise<number> {
  switch (command) {
    case 'connect':
      return connect(args, options, io);
    case 'forward':
      return forward(args, options, io);
    case 'create':
      return create(args, io);
    case 'list':
      return list(args, io);
    case 'version':
      return version(args, io);
    case 'completion':
      io.out(completionScript(args.positionals[0]));
      return 0;
  }
}

/** Runs `kubectl pf ARGS...` and returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  try {
    const { command, rest } = splitCommand(argv);
    if (command === '__complete') return await completeWords(rest, io);
    if (command === undefined || command === 'help') {
      const args = parseArgs(rest, GLOBAL_FLAGS);
      const topic = command === 'help' ? args.positionals[0] : undefined;
      if (topic !== undefined && !commandNamed(topic)) throw new UsageError(`unknown command "${topic}": use ${COMMAND_LIST}`);
      if (command === undefined && !boolFlag(args, 'help') && rest.length > 0) {
        throw new UsageError('a command is required: kubectl pf connect|forward|create|list|version ... (see kubectl pf --help)');
      }
      io.out(commandNamed(topic)?.help ?? ROOT_HELP);
      return 0;
    }
    const found = commandNamed(command);
    if (!found) throw new UsageError(`unknown command "${command}" for "kubectl pf": use ${COMMAND_LIST} (see kubectl pf --help)`);
    const args = parseArgs(rest, found.flags);
    if (boolFlag(args, 'help')) {
      io.out(found.help);
      return 0;
    }
    return await run(found.name, args, options, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}`);
      return 2;
    }
    io.err(`error: ${apiErrorMessage(err)}`);
    return 1;
  }
}

/** The process entry point: the bundle (dist/kubectl-pf), bin/kubectl-pf.js, or `tsx src/cli/main.ts`. */
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
