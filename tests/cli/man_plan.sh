#!/bin/sh
# man_plan.sh - cairn-plan(5) cannot drift from the parser: every key of
# every key table the plan parser checks objects against (the
# "static const char *const *_keys[]" arrays passed to
# cairn__plan_check_keys), every kind and every output type is documented
# in its section of docs/cairn-plan.5, and every key the page documents
# there is one the parser accepts.  Both man pages render without a
# warning, cairn(1) refers to cairn-plan(5), `make install` installs it,
# and the annotated example of the page is a valid plan.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

PAGE=$CAIRN_ROOT/docs/cairn-plan.5
LIB=$CAIRN_ROOT/lib

# section NAME: the roff source of section NAME of the page (.SH to .SH).
section() {
    awk -v want=".SH $1" '
        /^\.SH / { on = ($0 == want); next }
        on { print }' "$PAGE"
}

# The parser files: those that check keys.
PARSER=$(grep -rl --include='*.c' 'cairn__plan_check_keys' "$LIB")
CHECKS=$((CHECKS + 1))
[ -n "$PARSER" ] || fail "no plan parser file under lib/"

# tables: "<table> <key>" for every key of every *_keys[] table.
# shellcheck disable=SC2086
awk '
    /static const char \*const [a-z_]+_keys\[\] *= *\{/ {
        t = $0; sub(/.*const /, "", t); sub(/\[.*/, "", t); on = 1
    }
    on {
        line = $0
        while (match(line, /"[^"]*"/)) {
            print t, substr(line, RSTART + 1, RLENGTH - 2)
            line = substr(line, RSTART + RLENGTH)
        }
        if ($0 ~ /\};/) { on = 0 }
    }' $PARSER | sort -u >"$T/keys"
CHECKS=$((CHECKS + 1))
[ "$(wc -l <"$T/keys")" -ge 30 ] || fail "found only $(wc -l <"$T/keys") plan keys"

# Where each table's keys are documented, and under which name.
where() {
    case $1 in
    top_keys) echo "PLAN KEYS|" ;;
    op_keys) echo "OPERATION KEYS|" ;;
    retry_keys) echo "RETRY|retry." ;;
    ready_keys) echo "SERVICES|ready." ;;
    require_keys) echo "REQUIRED OUTPUTS|requires[]." ;;
    *) echo "" ;;
    esac
}

# A key is documented as a ".B key" line right after .TP or .TQ.
documented() {
    section "$1" | awk '
        /^\.(TP|TQ)$/ { tag = 1; next }
        tag && /^\.B [^ ]+$/ { print $2 }
        { tag = 0 }' | sed 's/\\-/-/g' | sort -u
}

while read -r table key; do
    w=$(where "$table")
    CHECKS=$((CHECKS + 1))
    if [ -z "$w" ]; then
        fail "key table $table is new: map it to a section in $0"
        continue
    fi
    sec=${w%%|*}
    name=${w#*|}$key
    documented "$sec" | grep -qxF -- "$name" ||
        fail "cairn-plan.5, section $sec: key \"$name\" ($table) is not documented"
done <"$T/keys"

# The reverse: every key the page documents in these sections is accepted.
for pair in "PLAN KEYS|top_keys|" "OPERATION KEYS|op_keys|" \
    "RETRY|retry_keys|retry." "SERVICES|ready_keys|ready." \
    "REQUIRED OUTPUTS|require_keys|requires[]."; do
    sec=${pair%%|*}
    rest=${pair#*|}
    table=${rest%%|*}
    prefix=${rest#*|}
    for name in $(documented "$sec"); do
        case $name in
        "$prefix"*) ;;
        *) continue ;;
        esac
        CHECKS=$((CHECKS + 1))
        grep -qxF -- "$table ${name#"$prefix"}" "$T/keys" ||
            fail "cairn-plan.5, section $sec documents \"$name\", which the parser does not accept"
    done
done

# Every kind (cairn_kind_name) and every output type is in its section.
words() { # FILE FUNCTION: the words FUNCTION returns
    awk -v f="$2" '
        $0 ~ "^const char \\*" f "\\(" { on = 1 }
        on && /return "/ { s = $0; sub(/.*return "/, "", s); sub(/".*/, "", s); print s }
        on && /^}/ { on = 0 }' "$1"
}
NAMES=$(grep -rl --include='*.c' '^const char \*cairn_kind_name(' "$LIB")
RULES=$(grep -rl --include='*.c' '^const char \*cairn__output_type_name(' "$LIB")
CHECKS=$((CHECKS + 1))
[ -n "$NAMES" ] && [ -n "$RULES" ] || fail "kind or output type names not found"
for k in $(words "$NAMES" cairn_kind_name | grep -vx unknown); do
    CHECKS=$((CHECKS + 1))
    documented KINDS | grep -qxF "$k" || fail "kind $k is not in KINDS"
done
CHECKS=$((CHECKS + 1))
[ "$(words "$NAMES" cairn_kind_name | grep -vxc unknown)" -eq 10 ] ||
    fail "expected 10 kinds"
for t in $(words "$RULES" cairn__output_type_name | grep -vx unknown); do
    CHECKS=$((CHECKS + 1))
    section "REQUIRED OUTPUTS" | grep -qxF ".B $t" ||
        fail "output type $t is not in REQUIRED OUTPUTS"
done

# Both pages render without a warning (man-db and groff).
for p in cairn-plan.5 cairn.1; do
    CHECKS=$((CHECKS + 1))
    MANWIDTH=80 man --warnings -l "$CAIRN_ROOT/docs/$p" >"$T/man.out" 2>"$T/man.err"
    if [ -s "$T/man.err" ] || [ ! -s "$T/man.out" ]; then
        fail "man --warnings -l docs/$p: $(cat "$T/man.err")"
    fi
    CHECKS=$((CHECKS + 1))
    groff -man -t -Tutf8 -ww -z "$CAIRN_ROOT/docs/$p" 2>"$T/groff.err"
    [ -s "$T/groff.err" ] && fail "groff -ww docs/$p: $(cat "$T/groff.err")"
done
CHECKS=$((CHECKS + 1))
awk '/^\.SH SEE ALSO/ { on = 1 } on' "$CAIRN_ROOT/docs/cairn.1" |
    grep -qF '.BR cairn\-plan (5),' || fail "cairn.1 SEE ALSO lacks cairn-plan(5)"
CHECKS=$((CHECKS + 1))
grep -q 'docs/cairn-plan.5 $(DESTDIR)$(MANDIR)/man5/cairn-plan.5' \
    "$CAIRN_ROOT/Makefile" || fail "make install does not install cairn-plan.5"

# The annotated example is a valid plan: the first .EX block of EXAMPLE.
section EXAMPLE | awk '/^\.EX$/ { on = 1; next } /^\.EE$/ { exit } on' |
    sed 's/\\-/-/g' >"$T/example.json"
expect 0 "$CAIRN" -J "$T/j" create "$T/example.json"
expect 0 "$CAIRN" -J "$T/j" run --dry-run "$T/example.json"

finish
