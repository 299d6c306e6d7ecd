# keycard.bash - bash completion for kc-admin, kc-issue, kc-startup,
# kc-station and kc-vcard. Installed as share/bash-completion/completions/
# kc-admin with the other four names linked to it. The options and commands
# are read from each tool's own --help, so they cannot drift from the code.

# The long options a help text names, one per line.
_keycard_opts()
{
    "$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

# Options whose value is a file or directory, and those that take no file.
_keycard_value()
{
    local prev=$1 cur=$2 tool=$3
    if [[ $tool == kc-vcard && $prev == --card ]]; then
        COMPREPLY=($(compgen -W "$(kc-vcard --list-cards 2>/dev/null)" -- "$cur"))
        return 0
    fi
    case $prev in
    --holder-pin)
        # A secret's source (never the secret itself).
        if [[ $cur == file:* ]]; then
            COMPREPLY=($(compgen -f -P file: -- "${cur#file:}"))
        else
            COMPREPLY=($(compgen -W "prompt file: env: fd:" -- "$cur"))
        fi
        return 0 ;;
    --sim|--target-sim|--config|--profile|--records|--state|--out|--issuer-pub|--export|\
--verify-file|--admin-key-file|--issuer-pin-file|--holder-pin-file|--new-file|--old-file|\
--station|--socket|--to)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0 ;;
    --profiles|--stack)
        COMPREPLY=($(compgen -d -- "$cur"))
        return 0 ;;
    --reader|--target-reader|--wait|--wait-busy|--port|--host|--reader-slot|--serial|--keys|\
--card|--from)
        return 0 ;;
    esac
    return 1
}

_keycard_tool()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    _keycard_value "$prev" "$cur" "$1" && return 0
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_keycard_opts "$1")" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_kc_admin()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i
    COMPREPLY=()
    _keycard_value "$prev" "$cur" kc-admin && return 0
    # The command: the first word after the global options and their values.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --reader|--sim|--wait-busy) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_keycard_opts kc-admin)" -- "$cur"))
        else
            local cmds
            cmds=$(kc-admin --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
            COMPREPLY=($(compgen -W "$cmds help" -- "$cur"))
        fi
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_keycard_opts kc-admin "$cmd")" -- "$cur"))
    else
        case $cmd in
        change-pin) COMPREPLY=($(compgen -W "issuer holder admin" -- "$cur")) ;;
        unblock) COMPREPLY=($(compgen -W "issuer holder" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -f -- "$cur")) ;;
        esac
    fi
}

_kc_issue() { _keycard_tool kc-issue; }
_kc_startup() { _keycard_tool kc-startup; }
_kc_station() { _keycard_tool kc-station; }
_kc_vcard() { _keycard_tool kc-vcard; }

complete -F _kc_admin kc-admin
complete -F _kc_issue kc-issue
complete -F _kc_startup kc-startup
complete -F _kc_station kc-station
complete -F _kc_vcard kc-vcard
