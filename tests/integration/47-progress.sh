#!/bin/sh
# 47-progress.sh - the batch's progress bar as an operator sees it: kc-issue
# --all in a tmux terminal shows the bar from the first card on, with the
# count, the rate and an ETA once the stacker says how many cards are left; the same
# batch piped (and with TERM=dumb) writes no escape byte; --json writes one
# JSON object per card and the summary, nothing else on stdout; two target
# heads on one key card show a bar each.
#
# Run from the top of the tree: B=build sh tests/integration/47-progress.sh
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"
command -v tmux >/dev/null || { echo "47-progress: tmux missing (make deps)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-47-progress.XXXXXX") || exit 1
SOCK=kc47-$$
tmux_pid=
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() {
    # The tmux server this test started, by its process id.
    [ -n "$tmux_pid" ] && kill "$tmux_pid" 2>/dev/null
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
mkdir -p "$VC_DIR"
ISSUE="$B/bin/kc-issue --config examples/profiles/demo-station.json --profile examples/profiles/standard.json --all --wait 5"

# (a) a terminal: the bar from card 1, with ETA
vc_stack_make "$VC_TARGET_STACK" 6 504752000001 || exit 1
vc_up >/dev/null || { echo "47-progress: virtual cards did not start" >&2; exit 1; }
tmux -L "$SOCK" -f /dev/null new-session -d -x 160 -y 40 \
    "env TERM=xterm $ISSUE; echo EXIT=\$?; sleep 120" || { echo "FAIL: tmux" >&2; exit 1; }
tmux_pid=$(tmux -L "$SOCK" display-message -p '#{pid}')
seen_first="" seen_eta="" done_=""
for i in $(seq 1 600); do
    tmux -L "$SOCK" capture-pane -p >"$T/pane" 2>/dev/null || break
    bar=$(grep '^\[[#.]*\]' "$T/pane" | tail -n 1)
    [ -z "$seen_first" ] && echo "$bar" | grep -Eq '\] 1(/6)? +[0-9.]+ cards/min' && seen_first=$bar
    if [ -z "$seen_eta" ] && echo "$bar" | grep -Eq '\] [1-5]/6 +[0-9.]+ cards/min +ETA [0-9]+:[0-9]{2}'; then
        seen_eta=$bar
    fi
    grep -q '^EXIT=' "$T/pane" && { done_=1; break; }
    sleep 0.1
done
cp "$T/pane" "$T/pane.last"
[ -n "$seen_first" ] && ok "the bar from the first card: $seen_first" ||
    fail "no bar after the first card"
[ -n "$seen_eta" ] && ok "the bar with rate and ETA during the batch: $seen_eta" ||
    fail "no bar with ETA (last screen: $(tr '\n' '|' <"$T/pane.last" | cut -c1-400))"
[ -n "$done_" ] && grep -q '^EXIT=0' "$T/pane" && grep -q '^summary: 6 cards, 6 issued' "$T/pane" &&
    ok "the batch in the terminal: $(grep '^summary' "$T/pane")" ||
    fail "the terminal batch did not end well: $(tr '\n' '|' <"$T/pane" | cut -c1-400)"
kill "$tmux_pid" 2>/dev/null
tmux_pid=
vc_down

# (b) piped, then TERM=dumb on a pipe: not one escape byte; (c) --json lines
vc_stack_make "$VC_TARGET_STACK" 3 504752000101 || exit 1
vc_up >/dev/null || { echo "47-progress: virtual cards did not start" >&2; exit 1; }
$ISSUE 2>&1 | cat >"$T/piped.out"
if grep -q '^summary: 3 cards, 3 issued' "$T/piped.out" && ! od -An -c "$T/piped.out" | grep -q '033'; then
    ok "piped: no escape byte ($(grep -c '^card ' "$T/piped.out") card lines)"
else
    fail "piped run: $(od -c "$T/piped.out" | grep -m1 033)"
fi
vc_down
vc_stack_make "$VC_TARGET_STACK" 3 504752000201 || exit 1
vc_up >/dev/null || { echo "47-progress: virtual cards did not start" >&2; exit 1; }
$ISSUE --json >"$T/json.out" 2>"$T/json.err"
rc=$?
if [ $rc -eq 0 ] && python3 - "$T/json.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
docs = [json.loads(l) for l in lines]
cards = [d for d in docs if d["type"] == "card"]
assert len(cards) == 3 and all(c["result"] == "issued" and len(c["serial"]) == 16 for c in cards), docs
rate = docs[-1].pop("cards_per_hour")
assert isinstance(rate, float) and rate > 0, rate
assert docs[-1] == {"type": "summary", "cards": 3, "issued": 3, "failed": 0, "skipped": 0, "stopped": None}, docs[-1]
assert len(docs) == 4
PY
then
    ok "--json: 3 card objects and the summary, one per line; notices on stderr ($(wc -l <"$T/json.err") lines)"
else
    fail "--json (rc $rc): $(head -c 600 "$T/json.out")"
fi

# (d) two target heads on one key card, in a terminal: a bar per head,
# the card lines above them; the same batch piped: card lines only.
vc_down
KC_VC_STATIONS=2
. tests/vcards.sh
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/heads
vc_stack_make "$VC_TARGET_STACK" 4 504752000301 || exit 1
vc_stack_make "$VC_TARGET_STACK.2" 4 504752000401 || exit 1
vc_up >/dev/null || { echo "47-progress: virtual cards did not start" >&2; exit 1; }
HEADS="--reader '$VC_KEYCARD_READER' --target-reader '$(vc_station_target_reader 1)' --target-reader '$(vc_station_target_reader 2)'"
tmux -L "$SOCK" -f /dev/null new-session -d -x 160 -y 40 \
    "env TERM=xterm $ISSUE $HEADS; echo EXIT=\$?; sleep 120" || { echo "FAIL: tmux" >&2; exit 1; }
tmux_pid=$(tmux -L "$SOCK" display-message -p '#{pid}')
seen_both="" done_=""
for i in $(seq 1 600); do
    tmux -L "$SOCK" capture-pane -p >"$T/pane" 2>/dev/null || break
    b1=$(grep -E '^head 1 \[[#.]*\] [0-9]+(/4)?' "$T/pane" | tail -n 1)
    b2=$(grep -E '^head 2 \[[#.]*\] [0-9]+(/4)?' "$T/pane" | tail -n 1)
    # Both bars, each on its line, below every card line (they move down with them).
    if [ -z "$seen_both" ] && [ -n "$b1" ] && [ -n "$b2" ] &&
        grep -E '^(card |head [12] \[)' "$T/pane" | tail -n 2 | head -n 1 | grep -q '^head 1' &&
        grep -E '^(card |head [12] \[)' "$T/pane" | tail -n 1 | grep -q '^head 2'; then
        seen_both="$b1 / $b2"
    fi
    grep -q '^EXIT=' "$T/pane" && { done_=1; break; }
    sleep 0.1
done
[ -n "$seen_both" ] && ok "two heads in a terminal: a bar each, below the card lines: $seen_both" ||
    fail "no bar per head (last screen: $(tr '\n' '|' <"$T/pane" | cut -c1-600))"
[ -n "$done_" ] && grep -q '^EXIT=0' "$T/pane" && grep -q '^summary: 8 cards, 8 issued' "$T/pane" &&
    [ "$(grep -c '^head [12] \[' "$T/pane")" = 0 ] &&
    ok "the two-head batch ended with its summary, the bars gone: $(grep '^summary' "$T/pane")" ||
    fail "the two-head batch: $(tr '\n' '|' <"$T/pane" | cut -c1-600)"
kill "$tmux_pid" 2>/dev/null
tmux_pid=

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
