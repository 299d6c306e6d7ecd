#!/bin/sh
# doc-figures.sh - the byte counts quoted in the docs and header comments
# match what the code computes (part of `make check`): envelope lengths per
# bucket ("bucket + 26", "B + 29"), the batched WRAP answer of standard.json
# ("31 × (2 + 285) = 8897", "+ 18 = 8915", "31 envelopes of 2 + 285 bytes,
# 8897 bytes, 8915 with"), and how many steps one WRAP takes. The figures are
# computed by tests/lint/doc_figures.c from include/keycard_proto.h; the step
# count and bucket are read from examples/profiles/standard.json.
# DOC_FIGURES_PLANT=1 adds a wrong figure, to show that the check can fail.
# Run from the top of the tree: sh tests/lint/doc-figures.sh
set -u
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cc -std=c11 -Iinclude -o "$tmp/figures" tests/lint/doc_figures.c || exit 1
"$tmp/figures" >"$tmp/figures.txt" || exit 1
if [ "${DOC_FIGURES_PLANT:-0}" = 1 ]; then
    printf 'planted: 31 × (2 + 289) = 8977 bytes\n' >"$tmp/planted.md"
    set -- "$tmp/planted.md"
else
    set --
fi
python3 - "$tmp/figures.txt" "$@" <<'PY'
import glob, json, re, sys
fig = {}
apdu = {}
for line in open(sys.argv[1]):
    k, *v = line.split()
    if k == "apdu_len":
        apdu[int(v[0])] = int(v[1])
    else:
        fig[k] = int(v[0])
std = json.load(open("examples/profiles/standard.json"))
steps, bucket = len(std["steps"]), std.get("bucket", 256)
e = apdu[bucket]
chan = fig["channel_resp_overhead"]
files = (glob.glob("docs/*.md") + ["README.md"] + glob.glob("include/*.h") + glob.glob("keycard/*.h")
         + glob.glob("man/*.1") + sys.argv[2:])
bad = seen = 0
def want(where, what, got, exp):
    global bad, seen
    seen += 1
    if got != exp:
        print(f"doc-figures: {where}: {what} is {got}, the code says {exp}")
        bad += 1
for f in files:
    text = open(f, encoding="utf-8").read()
    for ln, line in enumerate(text.splitlines(), 1):
        at = f"{f}:{ln}"
        for m in re.finditer(r"(\d+) × \(2 \+ (\d+)\)(?: \+ (\d+))? = (\d+)", line):
            n, el, extra, tot = int(m[1]), int(m[2]), m[3], int(m[4])
            want(at, "the step count of standard.json", n, steps)
            want(at, f"an envelope of bucket {bucket}", el, e)
            if extra:
                want(at, "the secure channel's overhead", int(extra), chan)
            want(at, "the total", tot, n * (2 + el) + (int(extra) if extra else 0))
        for m in re.finditer(r"(\d+) envelopes of 2 \+ (\d+) bytes(?:, (\d+) bytes, (\d+) with)?", line):
            want(at, "the step count of standard.json", int(m[1]), steps)
            want(at, f"an envelope of bucket {bucket}", int(m[2]), e)
            if m[3]:
                want(at, "the WRAP answer", int(m[3]), steps * (2 + e))
                want(at, "the WRAP answer in the channel", int(m[4]), steps * (2 + e) + chan)
        for m in re.finditer(r"(?<!\+ )\b(?:[Bb]|bucket) \+ (\d+)", line):
            short = apdu[64] - 64
            want(at, "bucket + overhead", int(m[1]) in (short, apdu[256] - 256), True)
        for m in re.finditer(r"up to ~?(\d+) steps of bucket (\d+)", line):
            b = int(m[2])
            want(at, f"steps of bucket {b} in one WRAP", int(m[1]),
                 (fig["max_resp"] - chan) // (2 + apdu[b]))
assert apdu[64] - 64 == apdu[128] - 128 and apdu[256] - 256 == apdu[1024] - 1024
if seen < 6:
    print(f"doc-figures: only {seen} figures found; the patterns no longer match the docs")
    bad += 1
if bad:
    print("doc-figures: FAILED")
    sys.exit(1)
print(f"doc-figures: {seen} figures in the docs match the code")
PY
