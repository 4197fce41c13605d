// `kubectl pf __complete WORDS...`: shell completion in cobra's protocol, which kubectl (1.26+)
// speaks with plugins through the executable kubectl_complete-pf. WORDS are the arguments after
// `pf`, the last one the word being completed ("" for a new one). The answer is one candidate a
// line, then `:DIRECTIVE`. Commands and flags come from the command table; PortForward and namespace
// names from the API server, through lookups that may fail or time out, leaving no candidate.
import { GLOBAL_FLAGS, type FlagSpec } from './args.js';
import { COMMAND_NAMES, commandNamed, splitCommand } from './commands.js';
import type { KubeFlags } from './kube.js';

/** cobra's ShellCompDirective bits (spf13/cobra completions.go). */
export const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4, filterFileExt: 8, filterDirs: 16, keepOrder: 32 } as const;

export interface Completion {
  candidates: string[];
  directive: number;
}

export interface Lookups {
  portForwards(kube: KubeFlags): Promise<string[]>;
  namespaces(kube: KubeFlags): Promise<string[]>;
}

const SHELLS = ['bash', 'zsh'];

/** Where the word before the cursor stands: the flag awaiting a value, the positionals so far, the kube flags. */
function scan(words: readonly string[], flags: readonly FlagSpec[]) {
  const kube: KubeFlags = {};
  const positionals: string[] = [];
  let pending: FlagSpec | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    pending = undefined;
    if (word === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    const m = /^(--?)([^=]+)(?:=(.*))?$/.exec(word);
    if (!m || word === '-') {
      positionals.push(word);
      continue;
    }
    // -nteam-a: a short flag with its value attached
    const [, dashes, name, inline] = m as unknown as [string, string, string, string | undefined];
    const spec = dashes === '--' ? flags.find((f) => f.name === name) : flags.find((f) => f.short === name[0]);
    const attached = dashes === '-' && name.length > 1 ? name.slice(1) : inline;
    if (spec?.type !== 'string' || spec.bareValue !== undefined) continue;
    const value = attached ?? words[i + 1];
    if (attached === undefined) i++;
    if (value === undefined) pending = spec;
    else if (spec.name === 'namespace' || spec.name === 'context' || spec.name === 'kubeconfig') kube[spec.name] = value;
  }
  return { kube, positionals, pending };
}

function flagNames(flags: readonly FlagSpec[], current: string): string[] {
  const names = flags.map((f) => `--${f.name}`);
  // cobra offers the short forms for a lone "-" only
  if (current === '-') names.push(...flags.flatMap((f) => (f.short ? [`-${f.short}`] : [])));
  return names;
}

/** Silently nothing when the API server is out of reach, slow, or refuses. */
async function quietly(lookup: () => Promise<string[]>): Promise<string[]> {
  try {
    return await lookup();
  } catch {
    return [];
  }
}

async function flagValues(flag: FlagSpec, kube: KubeFlags, lookups: Lookups): Promise<Completion> {
  if (flag.name === 'kubeconfig') return { candidates: [], directive: DIRECTIVE.default }; // a file
  if (flag.name === 'namespace' || flag.name === 'target-namespace') {
    return { candidates: await quietly(() => lookups.namespaces(kube)), directive: DIRECTIVE.noFileComp };
  }
  return { candidates: [...(flag.values ?? [])], directive: DIRECTIVE.noFileComp };
}

async function candidates(words: readonly string[], lookups: Lookups): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const typed = words.slice(0, -1);
  const { command, rest } = splitCommand(typed);
  const found = commandNamed(command);
  if (command !== undefined && command !== 'help' && !found) return { candidates: [], directive: DIRECTIVE.noFileComp };
  const flags = found?.flags ?? GLOBAL_FLAGS;
  const { kube, positionals, pending } = scan(rest, flags);

  if (pending) return flagValues(pending, kube, lookups);
  const inline = /^--([^=]+)=(.*)$/.exec(current);
  if (inline) {
    const flag = flags.find((f) => f.name === inline[1]);
    if (!flag || flag.type !== 'string') return { candidates: [], directive: DIRECTIVE.noFileComp };
    const values = await flagValues(flag, kube, lookups);
    return { ...values, candidates: values.candidates.map((v) => `--${flag.name}=${v}`) };
  }
  if (current.startsWith('-')) return { candidates: flagNames(flags, current), directive: DIRECTIVE.noFileComp };
  if (command === undefined || (command === 'help' && positionals.length === 0)) {
    return { candidates: command === undefined ? [...COMMAND_NAMES, 'help'] : [...COMMAND_NAMES], directive: DIRECTIVE.noFileComp };
  }
  if (positionals.length > 0) return { candidates: [], directive: DIRECTIVE.noFileComp };
  if (command === 'connect') return { candidates: await quietly(() => lookups.portForwards(kube)), directive: DIRECTIVE.noFileComp };
  if (command === 'completion') return { candidates: [...SHELLS], directive: DIRECTIVE.noFileComp };
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

/** The candidates for the last of `words` that start with it (cobra leaves that to the function). */
export async function complete(words: readonly string[], lookups: Lookups): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const result = await candidates(words, lookups);
  return { ...result, candidates: result.candidates.filter((c) => c.startsWith(current)) };
}

/** The answer as kubectl and the scripts read it. */
export function completionLines(c: Completion): string[] {
  return [...c.candidates, `:${c.directive}`];
}
