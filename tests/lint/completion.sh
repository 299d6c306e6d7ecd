#!/bin/sh
# completion.sh - the bash completion (completions/keycard.bash) against the
# built tools (part of `make check`): each tool completes its options, kc-admin
# its commands and a command's options, option values complete as files.
# Run from the top of the tree after a build: B=build sh tests/lint/completion.sh
set -u
B=${B:-build}
command -v bash >/dev/null || { echo "completion: bash missing" >&2; exit 1; }
PATH=$B/bin:$PATH bash -c '
set -u
. completions/keycard.bash
bad=0
# complete WORDS...: COMPREPLY for the last word, space-separated and sorted.
complete_line() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    local f
    f=$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/")
    "$f"
    printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
}
want() { # what, got, a word that must be in it
    case " $2 " in *" $3 "*) ;; *) echo "completion: $1: no $3 in [$2]"; bad=1 ;; esac
}
for t in kc-admin kc-issue kc-startup kc-station kc-vcard; do
    complete -p $t >/dev/null 2>&1 || { echo "completion: nothing for $t"; bad=1; continue; }
    want "$t --v" "$(complete_line $t --v)" --version
    want "$t --h" "$(complete_line $t --h)" --help
done
want "kc-admin i" "$(complete_line kc-admin i)" info
want "kc-admin t" "$(complete_line kc-admin t)" target-manufacture
want "kc-admin b" "$(complete_line kc-admin b)" backup
want "kc-admin r" "$(complete_line kc-admin r)" restore
want "kc-admin --sim x a" "$(complete_line kc-admin --sim x a)" audit
want "kc-admin audit --ex" "$(complete_line kc-admin audit --ex)" --export
want "kc-admin change-pin h" "$(complete_line kc-admin change-pin h)" holder
want "kc-issue --pro" "$(complete_line kc-issue --pro)" --profile
want "kc-issue --profile examples/profiles/st" "$(complete_line kc-issue --profile examples/profiles/st)" \
    examples/profiles/standard.json
want "kc-vcard --card k" "$(complete_line kc-vcard --card k)" keycard
want "kc-issue --holder-pin f" "$(complete_line kc-issue --holder-pin f)" file:
want "kc-issue --holder-pin file:examples/profiles/demo-st" \
    "$(complete_line kc-issue --holder-pin file:examples/profiles/demo-st)" \
    file:examples/profiles/demo-station.json
[ $bad = 0 ] && echo "completion: every tool completes its options; kc-admin its commands"
exit $bad
'
