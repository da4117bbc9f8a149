#!/bin/sh
# gen-docs.sh BIN VERSION MAN_OUT COMPLETION_OUT [PLUGIN_DIR]
#
# Generates the man page deltaload(1) and the bash completion from the text
# the binary prints: `deltaload --help` (the synopsis, the command list, the
# global options, the exit codes) and `deltaload COMMAND --help` for every
# command that list names. Nothing is written by hand twice, so the page and
# the completion cannot fall behind --help. POSIX sh + awk only (both are
# in every Debian build image). Run by the build (packaging/CMakeLists.txt).
set -eu
if [ $# -lt 4 ]; then
    echo "usage: $0 BIN VERSION MAN_OUT COMPLETION_OUT [PLUGIN_DIR]" >&2
    exit 2
fi
bin=$1 version=$2 man_out=$3 comp_out=$4 plugin_dir=${5:-/usr/lib/deltaload/plugins}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$bin" --help >"$tmp/top"
cmds=$(awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f && /^  [a-z]/ { print $1 }' "$tmp/top")
if [ -z "$cmds" ]; then
    echo "gen-docs.sh: no commands found in '$bin --help'" >&2
    exit 1
fi
: >"$tmp/all"
for c in $cmds; do
    if ! "$bin" "$c" --help >"$tmp/cmd.$c" 2>&1; then
        echo "gen-docs.sh: '$bin $c --help' failed:" >&2
        cat "$tmp/cmd.$c" >&2
        exit 1
    fi
    # one record per command for awk: "@@ name", then its help
    { echo "@@ $c"; cat "$tmp/cmd.$c"; } >>"$tmp/all"
done

# ---- the man page ----------------------------------------------------------
awk -v version="$version" -v plugindir="$plugin_dir" -v allfile="$tmp/all" '
# roff escapes: backslash, hyphen as minus (options copy and paste), a
# leading dot or quote would be a request
function esc(s,    out, i, ch) {
    out = ""
    for (i = 1; i <= length(s); i++) {
        ch = substr(s, i, 1)
        if (ch == "\\") out = out "\\e"
        else if (ch == "-") out = out "\\-"
        else out = out ch
    }
    if (out ~ /^[.\047]/) out = "\\&" out
    return out
}
function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
{ top[++n] = $0 }
END {
    usage = top[1]; sub(/^usage: +/, "", usage)
    # the description: the lines between the usage and "commands:"
    i = 2; desc = ""
    for (; i <= n && top[i] != "commands:"; i++) if (top[i] != "") desc = desc (desc == "" ? "" : " ") top[i]
    name = desc; sub(/\.$/, "", name); name = tolower(substr(name, 1, 1)) substr(name, 2)
    print ".\\\" Generated at build time by packaging/gen-docs.sh from deltaload --help"
    print ".\\\" and deltaload COMMAND --help. Do not edit."
    print ".TH DELTALOAD 1 \"\" \"deltaload " version "\" \"User Commands\""
    print ".SH NAME"
    print "deltaload \\- " esc(name)
    print ".SH SYNOPSIS"
    print ".B deltaload"
    u = usage; sub(/^deltaload +/, "", u)
    print esc(u)
    print ".SH DESCRIPTION"
    print esc(desc)
    print "Each command is described under"
    print ".B COMMANDS"
    print "below, with the text"
    print ".B deltaload"
    print ".I COMMAND"
    print ".B \\-\\-help"
    print "prints."
    # global options and exit codes, kept for after the commands
    sect = ""
    for (; i <= n; i++) {
        l = top[i]
        if (l == "commands:") { sect = "cmds"; continue }
        if (l == "options:") { sect = "opts"; continue }
        if (l ~ /^exit codes:/) { sect = "exit"; sub(/^exit codes: */, "", l); exitcodes = l; continue }
        if (l ~ /^docs:/) { sect = "docs"; sub(/^docs: */, "", l); docs = l; continue }
        if (l == "") { if (sect != "exit") sect = ""; continue }
        if (sect == "cmds" && l ~ /^  [a-z]/) { ncmd++; cname[ncmd] = l; continue }
        if (sect == "opts") { nopt++; opt[nopt] = l; continue }
        if (sect == "exit") { exitcodes = exitcodes " " trim(l); continue }
    }
    print ".SH OPTIONS"
    print "Global options come before the command;"
    print ".B \\-c"
    print "and"
    print ".B \\-\\-json"
    print "are also accepted after it."
    for (k = 1; k <= nopt; k++) {
        l = opt[k]; sub(/^ +/, "", l)
        p = index(l, "  ")
        print ".TP"
        if (p > 0) { print ".B " esc(substr(l, 1, p - 1)); print esc(trim(substr(l, p))) }
        else print esc(l)
    }
    print ".SH COMMANDS"
    # each command: its line in the summary, then its own --help verbatim
    while ((getline line < allfile) > 0) {
        if (line ~ /^@@ /) { cur = substr(line, 4); body[cur] = ""; continue }
        body[cur] = body[cur] line "\n"
    }
    for (k = 1; k <= ncmd; k++) {
        l = cname[k]; sub(/^ +/, "", l)
        c = l; sub(/ .*/, "", c)
        s = l; sub(/^[a-z]+ +/, "", s)
        print ".SS \"deltaload " c "\""
        print esc(s)
        print ".PP"
        print ".nf"
        m = split(body[c], bl, "\n")
        for (j = 1; j <= m; j++) if (j < m || bl[j] != "") print esc(bl[j])
        print ".fi"
    }
    print ".SH EXIT STATUS"
    m = split(exitcodes, ec, ", *")
    for (j = 1; j <= m; j++) {
        e = trim(ec[j]); code = e; sub(/ .*/, "", code); what = e; sub(/^[0-9]+ +/, "", what)
        print ".TP"; print ".B " code; print esc(what)
    }
    print ".SH ENVIRONMENT"
    print ".TP"
    print ".B DELTALOAD_PLUGIN_PATH"
    print "Directories (colon\\-separated) searched for plugins; see"
    print ".B deltaload plugins \\-\\-help"
    print "for the whole search order."
    print ".SH FILES"
    print ".TP"
    print ".I " esc(plugindir)
    print "Plugins (dld\\-\\fIKIND\\fP\\-\\fINAME\\fP.so); each heavy plugin comes in its own package."
    print ".TP"
    print ".I /etc/deltaload/deltaload.json"
    print "The configuration the systemd unit deltaload.service runs (\\fBdeltaload daemon\\fP)."
    print ".SH SEE ALSO"
    print "The documentation in /usr/share/doc/deltaload: " esc(docs) "."
}' "$tmp/top" >"$man_out.tmp"
mv "$man_out.tmp" "$man_out"

# ---- bash completion --------------------------------------------------------
# per command: its options (every --word its help names), the options that
# take a value (--word followed by an UPPERCASE placeholder), and its
# subcommands (the lowercase word after "deltaload [-c FILE] COMMAND" in its
# usage lines, or the indented words of a "COMMAND COMMAND" listing)
{
    cat <<'EOF'
# bash completion for deltaload -- generated by packaging/gen-docs.sh from
# `deltaload --help` and `deltaload COMMAND --help`. Do not edit.
_deltaload()
{
    local cur prev i ci=0 cmd="" sub=""
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    # the command: the first word that is neither an option nor -c's value
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -c | --config) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; ci=$i; break ;;
        esac
    done
    if [[ -n $cmd && $((ci + 1)) -lt $COMP_CWORD ]]; then
        sub=${COMP_WORDS[ci + 1]}
    fi
    case $prev in
    -c | --config | --html)
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
        return
        ;;
    esac
    local opts="" subs="" argopts=""
    case $cmd in
    "")
EOF
    gopts=$(awk '/^options:/ { f = 1; next } f && /^$/ { exit } f { print }' "$tmp/top" |
        grep -oE '(^|[ ,])--?[a-zA-Z][a-z-]*' | tr -d ' ,' | sort -u | tr '\n' ' ')
    echo "        opts=\"$gopts\""
    echo "        subs=\"$(echo $cmds)\""
    echo "        ;;"
    for c in $cmds; do
        h=$tmp/cmd.$c
        o=$( { grep -oE -- '(^|[^a-zA-Z-])--?[a-zA-Z][a-zA-Z-]*' "$h" | sed -E 's/^[^-]*//'; echo --help; } |
            grep -vE '^-[a-zA-Z][a-zA-Z]' | sort -u | tr '\n' ' ')
        a=$(grep -oE -- '--?[a-zA-Z][a-zA-Z-]* [A-Z][A-Z_.]*' "$h" | awk '{ print $1 }' |
            grep -vE '^-[a-zA-Z][a-zA-Z]' | sort -u | tr '\n' ' ')
        s=$( { grep -E "^ *(usage: )?deltaload( \[-c FILE\])? $c [a-z]" "$h" |
                sed -E "s/^ *(usage: )?deltaload( \[-c FILE\])? $c ([a-z]+).*/\3/"
            if grep -qE "deltaload( \[-c FILE\])? $c COMMAND" "$h"; then
                awk '/^  [a-z]/ { print $1; for (i = 2; i < NF; i++) if ($i == "|" && $(i + 1) ~ /^[a-z]+$/) print $(i + 1) }' "$h"
            fi; } | sort -u | tr '\n' ' ')
        echo "    $c)"
        echo "        opts=\"$o\""
        echo "        argopts=\"$a\""
        echo "        subs=\"$s\""
        echo "        ;;"
    done
    cat <<'EOF'
    esac
    # an option that takes a value: nothing to offer for the value
    if [[ -n $prev && " $argopts " == *" $prev "* ]]; then
        COMPREPLY=()
        return
    fi
    if [[ $cur != -* && -n $subs && ( -z $cmd || -z $sub ) ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    # plugins check FILE.so
    if [[ $cmd == plugins && $sub == check ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
    fi
}
complete -F _deltaload deltaload
EOF
} >"$comp_out.tmp"
mv "$comp_out.tmp" "$comp_out"
