#!/bin/sh
# 31-demo.sh - run the demo (examples/demo.sh) without a terminal, as
# `make demo` does on a fresh machine: it must exit 0, show the start-up
# reaching "ready" and the unlock in the audit log, and leave no process of
# its own behind. Needs pcscd and vsmartcard-vpcd; the demo takes the pcscd
# lock itself.
#
# Run from the top of the tree: B=build sh tests/integration/31-demo.sh

set -u
B=${B:-build}
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-31-demo.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# A new session (no controlling terminal, so the demo cannot prompt): every
# process the demo starts stays in it, which makes leftovers easy to find.
# Being outside the runner's process group, it carries its own time limit.
setsid timeout -k 5 120 sh examples/demo.sh </dev/null >"$T/out" 2>&1 &
sid=$!
wait "$sid"
rc=$?
if [ "$rc" -eq 0 ]; then ok "demo exits 0"; else not_ok "demo exits 0 (got $rc)"; sed 's/^/#   /' "$T/out"; fi
grep -q '\[6/6\] ready' "$T/out" && ok "start-up reaches ready" || not_ok "start-up reaches ready"
grep -qE 'unlock +holder OP-0001' "$T/out" && ok "audit shows the unlock" || not_ok "audit shows the unlock"
grep -q 'life cycle: *PROVISIONED' "$T/out" && ok "info shows PROVISIONED" || not_ok "info shows PROVISIONED"
if grep -qE '246810|13579135' "$T/out"; then
    # The PINs appear only in the demo's own explanatory lines, never as output of the tools.
    if grep -E '246810|13579135' "$T/out" | grep -qv 'demo holder PIN is'; then
        not_ok "no PIN printed"
    else
        ok "no PIN printed"
    fi
else
    ok "no PIN printed"
fi

sleep 0.2
left=$(ps -eo sid=,pid=,comm= | awk -v s="$sid" '$1 == s { print $2 " " $3 }')
if [ -z "$left" ]; then
    ok "no process of the demo remains"
else
    not_ok "no process of the demo remains: $left"
fi

echo "31-demo: $n checks, $fails failed"
[ "$fails" -eq 0 ]
