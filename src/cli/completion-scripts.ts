// `kubectl pf completion bash|zsh`: scripts for running the plugin as kubectl-pf, which ask
// `kubectl-pf __complete` as kubectl itself does through kubectl_complete-pf. Directive bit 4
// (cobra's NoFileComp) turns off the shell's file names when there is no candidate.
import { UsageError } from './args.js';

const BASH = `# bash completion for kubectl-pf: source <(kubectl-pf completion bash)
_kubectl_pf() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out directive
  out=$(kubectl-pf __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
  directive=\${out##*$'\\n'}
  if [[ $directive == "$out" ]]; then out=''; else out=\${out%$'\\n'*}; fi
  directive=\${directive#:}
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  if [[ \${#COMPREPLY[@]} -eq 0 && $(( directive & 4 )) -eq 0 ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _kubectl_pf kubectl-pf`;

const ZSH = `#compdef kubectl-pf
# zsh completion for kubectl-pf: source <(kubectl-pf completion zsh), after compinit
_kubectl_pf() {
  local out directive
  local -a candidates
  out=$(kubectl-pf __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  candidates=("\${(@f)out}")
  directive=\${candidates[-1]#:}
  candidates=("\${(@)candidates[1,-2]}")
  if (( \${#candidates} )); then
    compadd -- "\${(@)candidates}"
  elif (( (directive & 4) == 0 )); then
    _files
  fi
}
compdef _kubectl_pf kubectl-pf`;

export function completionScript(shell: string | undefined): string {
  if (shell === 'bash') return BASH;
  if (shell === 'zsh') return ZSH;
  if (shell === undefined) throw new UsageError('a shell is required: kubectl pf completion bash|zsh');
  throw new UsageError(`unsupported shell "${shell}": use bash or zsh`);
}
