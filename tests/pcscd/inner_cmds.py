#!/usr/bin/python3
"""inner_cmds.py - the plaintext inner commands an issuance would send, and a
search for them in a pcscd APDU log (pcscd -a).

Builds every step's inner command (CLA INS P1 P2 data) from the key card
profile's templates (kc-admin profile: "templates") and the issuance
profile's steps (kc-issue profile: "steps"), as the key card fills them; a
KEY slot's bytes (a key diversified inside the key card) are unknown here,
so the data is cut into the known pieces around it.

Usage: inner_cmds.py --templates KEYCARD.json --profile ISSUANCE.json
                     [--log PCSCD.LOG [--commands-only]] [--csv-row K=V ...]
Without --log: prints each inner command in hex, one a line.
With --log: searches every APDU line (and, without --commands-only, every
response line) for each inner command as a plaintext APDU (short and
extended Lc), for its header with its data, and for each known data piece of
8 bytes or more; prints what it searched and what it found. Left out: the
key card's WRAP commands (they carry the profile's public parameters to the
key card) and the answers to GET DATA DF11 (the issued card's file list). Exit 0 when
nothing is found, 1 when something is, 2 on bad usage.
"""
import json
import re
import sys


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def enc_param(p, row):
    (k, v), = p.items()
    if k in ("u8", "u16", "u32", "key"):
        if isinstance(v, str):
            v = int(v, 16)
        n = {"u8": 1, "u16": 2, "u32": 4, "key": 1}[k]
        return v.to_bytes(n, "big")
    if k == "hex":
        return h(v)
    if k == "text":
        b = v.encode()
        return bytes([len(b)]) + b
    if k == "bytes-hex":
        b = h(v)
        return bytes([len(b)]) + b
    if k == "csv":
        b = row[v].encode()
        return bytes([len(b)]) + b
    raise ValueError("unknown parameter kind " + k)


def build(tpl, step, row):
    """Returns (header, [known data pieces], complete) for one step."""
    hdr = h(tpl["cla"] + tpl["ins"] + tpl["p1"] + tpl["p2"])
    params = b"".join(enc_param(p, row) for p in step.get("params", []))
    pieces, cur, off, complete = [], b"", 0, True
    for item in tpl.get("data", []):
        (k, v), = item.items()
        if k == "fixed":
            cur += h(v)
        elif k == "int":
            cur += params[off:off + v["size"]]
            off += v["size"]
        elif k == "bytes":
            n = params[off]
            if v.get("prefix"):
                cur += bytes([n])
            cur += params[off + 1:off + 1 + n]
            off += 1 + n
        elif k == "key":
            off += 1
            pieces.append(cur)
            cur = b""
            complete = False
        else:
            raise ValueError("unknown template item " + k)
    pieces.append(cur)
    return hdr, pieces, complete


def main(argv):
    args = {"--csv-row": []}
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--commands-only":
            args[a] = True
            i += 1
        elif a in ("--templates", "--profile", "--log") and i + 1 < len(argv):
            args[a] = argv[i + 1]
            i += 2
        elif a == "--csv-row" and i + 1 < len(argv):
            args[a].append(argv[i + 1])
            i += 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if "--templates" not in args or "--profile" not in args:
        print(__doc__, file=sys.stderr)
        return 2
    tpls = {t["number"]: t for t in json.load(open(args["--templates"]))["templates"]}
    prof = json.load(open(args["--profile"]))
    row = dict(kv.split("=", 1) for kv in args["--csv-row"])
    cmds = []
    for n, st in enumerate(prof["steps"], 1):
        hdr, pieces, complete = build(tpls[st["template"]], st, row)
        cmds.append((n, hdr, pieces, complete))
    if "--log" not in args:
        for n, hdr, pieces, complete in cmds:
            print(" ".join([hdr.hex().upper()] + [p.hex().upper() for p in pieces]))
        return 0
    lines, wraps, lists = [], 0, 0
    after_list = False
    for line in open(args["--log"], errors="replace"):
        m = re.search(r"\b(APDU|SW): ((?:[0-9A-F]{2} ?)*)", line)
        if not m:
            continue
        b = bytes.fromhex(m.group(2).replace(" ", ""))
        if m.group(1) == "APDU":
            # The key card's WRAP (80 52) carries the template numbers and
            # parameters from the (public) issuance profile to the key card:
            # that is the key card line, left out. Every other line is searched.
            if b[:2] == b"\x80\x52":
                wraps += 1
                continue
            after_list = b[:4] == b"\x00\xca\xdf\x11"
            lines.append(b)
        elif "--commands-only" not in args:
            # The answer to GET DATA DF11 is the issued card's file list, which
            # any terminal may read after issuance: it shows the structure the
            # commands made, not the commands. Left out.
            if after_list:
                lists += 1
                after_list = False
                continue
            lines.append(b)
    needles = []
    for n, hdr, pieces, complete in cmds:
        data = pieces[0]
        if complete:
            full = pieces[0]
            needles.append((n, "plaintext APDU", hdr + bytes([len(full)]) + full if full else hdr))
            needles.append((n, "plaintext APDU (extended)",
                            hdr + b"\x00" + len(full).to_bytes(2, "big") + full))
        needles.append((n, "header + data", hdr + data[:8]))
        needles.append((n, "header + Lc + data", hdr + b"\x00" + data[:8]))
        for p in pieces:
            if len(p) >= 8:
                needles.append((n, "data", p))
    found = 0
    envelopes = sum(1 for b in lines if b[:2] == b"\x84\xc2")
    for n, what, needle in needles:
        # A bare 4-byte header on its own is too short to mean anything; it
        # is always searched together with what follows it.
        if len(needle) < 6:
            continue
        for b in lines:
            if needle in b:
                print("FOUND step %d %s: %s" % (n, what, needle.hex().upper()))
                found += 1
                break
    print("searched %d APDU log lines (%d ENVELOPE commands; left out: %d key card WRAP "
          "commands, %d file lists read after issuance) for %d plaintext pieces of %d inner "
          "commands: %d found"
          % (len(lines), envelopes, wraps, lists, sum(1 for x in needles if len(x[2]) >= 6),
             len(cmds), found))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
