#!/usr/bin/python3
"""gen_vectors.py - known-answer vectors for the issuance crypto core.

An independent implementation of docs/protocol.md (SP 800-108 KDF with
AES-CMAC, random chain, ENVELOPE (one inner command, or packed: several),
response MAC, completion MAC, previous-random chain) over the Python
`cryptography` package (OpenSSL); it never calls the C code. Writes
tests/vectors/*.json beside this file; tests/unit/test_envelope.c checks the
C implementation against them
(tests/unit/test_channel.c the secure channel's, channel.json;
tests/unit/test_keywrap.c the wrapped keys', keywrap.json, section 9a).

Run: /usr/bin/python3 tests/vectors/gen_vectors.py
The inputs are fixed, so the output is reproducible byte for byte.
"""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
BUCKETS = (64, 128, 256, 512, 1024)


def h(b):
    return b.hex()


def pattern(n, start, step=1):
    """n bytes start, start+step, ... (mod 256): readable, distinct test inputs."""
    return bytes((start + i * step) & 0xFF for i in range(n))


def be(v, n):
    return v.to_bytes(n, "big")


def aes_cmac(key, msg):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


def kdf(key, label, ctx, l_bits):
    """SP 800-108 counter mode, PRF AES-CMAC, r = 8, counter first."""
    assert len(key) in (16, 32) and l_bits % 8 == 0 and 0 < l_bits // 8 <= 4080
    fixed = label.encode("ascii") + b"\x00" + ctx + be(l_bits, 2)
    out = b""
    i = 1
    while len(out) < l_bits // 8:
        out += aes_cmac(key, bytes([i]) + fixed)
        i += 1
    return out[: l_bits // 8]


def diversify(master, serial):
    return kdf(master, "keycard/diversify", serial, 8 * len(master))


def session_ctx(serial, nt, nk, seed):
    """sctx = serial || Nt || Nk || seed (seed: way 04 only, else 16 zero bytes)."""
    return serial + nt + nk + (seed or bytes(16))


def chain_seed(kcard, sctx):
    return kdf(kcard, "keycard/v2/chain-seed", sctx, 256)


def static_base(kcard, sctx):
    return kdf(kcard, "keycard/v2/static-base", sctx, 256)


def chain_step(r_prev, serial, c):
    return kdf(r_prev, "keycard/chain-step", serial + be(c, 4), 256)


def static_key(base, serial, c):
    return kdf(base, "keycard/static", serial + be(c, 4), 256)


def env_keys(r, serial, c):
    ctx = serial + be(c, 4)
    return kdf(r, "keycard/v2/envelope", ctx, 512), kdf(r, "keycard/response", ctx, 128)


def plaintext(bucket, hdr, data):
    assert 7 + len(data) <= bucket
    p = hdr + be(len(data), 2) + data + b"\x80"
    return p + b"\x00" * (bucket - len(p))


def seal_raw(r, serial, c, pt):
    """ENVELOPE APDU around an arbitrary plaintext (also used for bad-padding cases)."""
    kenv, _ = env_keys(r, serial, c)
    aad = bytes([0x84, 0xC2, 0x00, 0x00]) + serial + be(c, 4)
    siv_ct = AESSIV(kenv).encrypt(pt, [aad])  # V (16) || ciphertext (RFC 5297)
    body = be(c, 4) + siv_ct[16:] + siv_ct[:16]  # the wire puts V last, as a tag
    n = len(body)
    if n <= 255:
        return bytes([0x84, 0xC2, 0x00, 0x00, n]) + body + b"\x00"
    return bytes([0x84, 0xC2, 0x00, 0x00, 0x00]) + be(n, 2) + body + b"\x00\x00"


def resp_mac(r, serial, c, sw, data):
    _, kresp = env_keys(r, serial, c)
    return aes_cmac(kresp, be(c, 4) + sw + data)


def completion_key(kcard, sctx):
    return kdf(kcard, "keycard/v2/completion", sctx, 128)


def completion_mac(kcomp, serial, steps, lock_way, lock_data):
    t = b"".join(be(c, 4) + sw for c, sw in steps)
    hh = hashlib.sha256(t).digest()
    return hh, aes_cmac(kcomp, serial + be(len(steps), 4) + hh + bytes([lock_way, len(lock_data)])
                        + lock_data)


def prev_random(p, serial):
    return (kdf(p, "keycard/previous-random/seed", serial, 128),
            kdf(p, "keycard/previous-random/next", serial, 256))


def session_vector(master, serial, way, seed):
    """One session of four inner commands (create folder, create file, write
    binary, lock d or lock b): the target's BEGIN answer, BIND, envelopes, answers and the
    completion MAC, with the inputs a test would give (Nt, Nk, seed)."""
    lock_way, lock_data = (0x02, bytes.fromhex("E0D8D6DC1E")) if way == 0x04 else (0x04, b"")
    inner = [(bytes.fromhex("80E00100"), bytes.fromhex("1001 3F00 0100 00 00 04") + b"SHOP"),
             (bytes.fromhex("80E00300"), bytes.fromhex("2001 1001 03 0010 00 00")),
             (bytes.fromhex("80D60000"), bytes.fromhex("2001 0000") + b"hello"),
             (bytes([0x80, 0x1E, lock_way, 0x00]), lock_data)]
    return run_session(master, serial, way, seed, 64, inner, False)


def packed_plaintext(bucket, items):
    """P = [k]_1 || k times (hdr || [Lc]_2 || data) || 80 00..00 to the bucket
    (docs/protocol.md "Packed envelopes")."""
    p = bytes([len(items)]) + b"".join(hdr + be(len(data), 2) + data for hdr, data in items)
    assert 1 <= len(items) <= 255 and len(p) + 1 <= bucket
    p += b"\x80"
    return p + b"\x00" * (bucket - len(p))


def pack(bucket, inner):
    """The key card's packing rule: greedy, steps in order; the next item joins the
    current envelope while 1 + (item bytes so far) + 6 + len(data) + 1 <= bucket."""
    envs, used = [], 0
    for hdr, data in inner:
        assert 8 + len(data) <= bucket, "an item alone must fit"
        if envs and 1 + used + 6 + len(data) + 1 <= bucket:
            envs[-1].append((hdr, data))
            used += 6 + len(data)
        else:
            envs.append([(hdr, data)])
            used = 6 + len(data)
    # COMPLETE ISSUANCE is the last item of the last envelope.
    assert inner[-1][0][1] == 0x1E and envs[-1][-1] == inner[-1]
    return envs


def open_packed(r, serial, c, apdu):
    """The receiver's side of a packed envelope, for the generator's self-check:
    decrypt, then walk [k]_1 and the items up to exactly 80 00..00."""
    kenv, _ = env_keys(r, serial, c)
    body = apdu[5:-1] if apdu[4] else apdu[7:-2]
    assert body[:4] == be(c, 4)
    aad = bytes([0x84, 0xC2, 0x00, 0x00]) + serial + be(c, 4)
    pt = AESSIV(kenv).decrypt(body[-16:] + body[4:-16], [aad])
    items, off = [], 1
    for _ in range(pt[0]):
        n = int.from_bytes(pt[off + 4:off + 6], "big")
        assert off + 6 + n <= len(pt)
        items.append((pt[off:off + 4], pt[off + 6:off + 6 + n]))
        off += 6 + n
    assert pt[0] >= 1 and pt[off] == 0x80 and not any(pt[off + 1:])
    return items


def packed_session_vector(master, serial, way, seed, bucket, inner):
    """A packed session (P1 bit 80 on both BEGINs, sctx ending 01): several inner
    commands per envelope, one answer per envelope with an answer item per inner
    command run, the transcript one entry per inner command."""
    return run_session(master, serial, way, seed, bucket, inner, True)


def run_session(master, serial, way, seed, bucket, inner, packed):
    kcard = diversify(master, serial)
    nt = pattern(16, 0x90 + way)
    nk = pattern(16, 0x30 + way, 3)
    c0 = 7 if way == 0x01 else 1
    begin_answer = b"\x02" + nt + (be(c0, 4) if way == 0x01 else b"")
    bind = nk + (seed if way == 0x04 else b"")
    # A packed session's context ends with its option byte, 01.
    sctx = session_ctx(serial, nt, nk, seed if way == 0x04 else None)
    sctx += b"\x01" if packed else b""
    lock_hdr, lock_data = inner[-1]
    lock_way = lock_hdr[2]
    assert lock_hdr[:2] == b"\x80\x1E" and all(hdr[1] != 0x1E for hdr, _ in inner[:-1])
    if way == 0x01:
        base = static_base(kcard, sctx)
    else:
        r = chain_seed(kcard, sctx)
    kcomp = completion_key(kcard, sctx)
    # Unpacked: one inner command per envelope; packed: the key card's packing.
    groups = pack(bucket, inner) if packed else [[cmd] for cmd in inner]
    steps, envs = [], []
    for e, group in enumerate(groups):
        c = c0 + e
        r_c = static_key(base, serial, c) if way == 0x01 else chain_step(r, serial, c)
        if way != 0x01:
            r = r_c
        if packed:
            apdu = seal_raw(r_c, serial, c, packed_plaintext(bucket, group))
            assert open_packed(r_c, serial, c, apdu) == group
        else:
            apdu = seal_raw(r_c, serial, c, plaintext(bucket, group[0][0], group[0][1]))
        # What the target answers: 9000 each, the completion MAC for the lock. The
        # transcript has one entry per inner command: [c0 + i]_4 || SW (unpacked: c).
        sw = b"\x90\x00"
        answers = []
        for hdr, _ in group:
            steps.append((c0 + len(steps), sw))
            if hdr[1] == 0x1E:
                _, idata = completion_mac(kcomp, serial, steps, lock_way, lock_data)
            else:
                idata = b""
            answers.append(sw + bytes([len(idata)]) + idata)
        if packed:
            rdata = bytes([len(answers)]) + b"".join(answers)  # A = [k']_1 || per item
        else:
            rdata = answers[0][3:]
        resp = be(c, 4) + sw + rdata + resp_mac(r_c, serial, c, sw, rdata)
        if packed:
            envs.append({"c": c, "items": [{"inner_hdr": h(hdr), "inner_data": h(data)}
                                           for hdr, data in group],
                         "r": h(r_c), "apdu": h(apdu), "response": h(resp + b"\x90\x00")})
        else:
            envs.append({"c": c, "inner_hdr": h(group[0][0]), "inner_data": h(group[0][1]),
                         "r": h(r_c), "apdu": h(apdu), "response": h(resp + b"\x90\x00")})
    assert len(steps) == len(inner)
    _, mac = completion_mac(kcomp, serial, steps, lock_way, lock_data)
    p1 = way | (0x80 if packed else 0)
    out = {"way": way, "master": h(master), "serial": h(serial), "kcard": h(kcard),
           "bucket": bucket, "nt": h(nt), "nk": h(nk),
           "seed": h(seed) if way == 0x04 else None,
           "target_begin": h(bytes([0x80, 0x10, p1, 0x01, 0x00])),
           "target_begin_answer": h(begin_answer + b"\x90\x00"),
           "keycard_begin_data": h(serial + bytes([1]) + be(bucket, 2) + nt +
                                   (be(c0, 4) if way == 0x01 else b"")),
           "keycard_begin_answer": h(nk + (seed if way == 0x04 else b"") + b"\x90\x00"),
           "target_bind": h(bytes([0x80, 0x12, 0x00, 0x00, len(bind)]) + bind),
           "sctx": h(sctx), "kcomp": h(kcomp), "lock_way": lock_way,
           "lock_data": h(lock_data), "envelopes": envs, "completion_mac": h(mac)}
    if packed:
        out["packed"] = True
        out["keycard_begin_p1"] = p1
    return out


def packed_sessions(k128, k256, serials):
    """Three packed sessions over the reference target's file system: create a
    folder and a transparent file (way 04 also a record file), write it at
    several offsets, lock last; the sizes make envelopes of one to four items,
    one bucket filled exactly."""
    def wb(fid, off, data):  # WRITE BINARY: fid(2) offset(2) bytes
        return bytes.fromhex("80D60000"), be(fid, 2) + be(off, 2) + data

    way03 = [(bytes.fromhex("80E00100"), bytes.fromhex("1101 3F00 0200 00 00 04") + b"PACK"),
             (bytes.fromhex("80E00300"), bytes.fromhex("2101 1101 03 0100 00 00")),
             wb(0x2101, 0x0000, pattern(20, 0x41)),
             wb(0x2101, 0x0014, pattern(30, 0x61)),
             wb(0x2101, 0x0040, pattern(8, 0xA0)),
             wb(0x2101, 0x0080, pattern(46, 0x10, 5)),  # with the lock: 64 bytes, no zeros
             (bytes.fromhex("801E0400"), b"")]
    way04 = [(bytes.fromhex("80E00100"), bytes.fromhex("1102 3F00 0200 00 00 05") + b"PACK4"),
             (bytes.fromhex("80E00300"), bytes.fromhex("2102 1102 03 0100 00 00")),
             (bytes.fromhex("80E00300"), bytes.fromhex("2103 1102 04 10 04 00 00")),
             wb(0x2102, 0x0000, pattern(60, 0x20)),
             (bytes.fromhex("80DC0000"), be(0x2103, 2) + pattern(16, 0xC0)),
             wb(0x2102, 0x0050, pattern(100, 0x33, 3)),
             wb(0x2102, 0x00F0, pattern(16, 0xE0)),  # up to the file's last byte
             (bytes.fromhex("801E0200"), bytes.fromhex("E0D8D6DC1E"))]
    way01 = [(bytes.fromhex("80E00100"), bytes.fromhex("1103 3F00 0100 00 00 04") + b"STAT"),
             (bytes.fromhex("80E00300"), bytes.fromhex("2104 1103 03 0040 00 00")),
             wb(0x2104, 0x0000, b"abc"),
             wb(0x2104, 0x0003, pattern(40, 0x30)),
             wb(0x2104, 0x0030, b"xyz"),
             (bytes.fromhex("801E0400"), b"")]
    return [packed_session_vector(k128, serials[1], 0x03, None, 64, way03),
            packed_session_vector(k256, serials[0], 0x04, pattern(16, 0x6C, 7), 128, way04),
            packed_session_vector(k256, serials[2], 0x01, None, 64, way01)]


def self_check():
    """Anchor the CMAC primitive to RFC 4493 section 4 before trusting it."""
    k = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    m = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
    want = {0: "bb1d6929e95937287fa37d129b756746", 16: "070a16b46b4d4144f79bdd9dd04a287c",
            40: "dfa66747de9ae63030ca32611497c827", 64: "51f0bebf7e3b9d92fc49741779363cfe"}
    rows = []
    for n, tag in want.items():
        got = aes_cmac(k, m[:n]).hex()
        if got != tag:
            sys.exit("AES-CMAC self-check failed for RFC 4493 length %d" % n)
        rows.append({"key": h(k), "msg": h(m[:n]), "mac": tag, "source": "RFC 4493 4"})
    # AES-SIV: RFC 5297 appendix A.1 (deterministic authenticated encryption).
    siv = AESSIV(bytes.fromhex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"))
    out = siv.encrypt(bytes.fromhex("112233445566778899aabbccddee"),
                      [bytes.fromhex("101112131415161718191a1b1c1d1e1f2021222324252627")])
    if out.hex() != "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c":
        sys.exit("AES-SIV self-check failed for RFC 5297 A.1")
    return rows


def write(name, desc, body):
    doc = {"description": desc, "generator": "tests/vectors/gen_vectors.py"}
    doc.update(body)
    with open(os.path.join(OUT_DIR, name), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    k128 = pattern(16, 0x00)
    k256 = pattern(32, 0x40)
    serials = [bytes.fromhex("0102030405060708"), bytes.fromhex("4B43000000000001"),
               bytes.fromhex("FFEEDDCCBBAA9988")]

    # ---- CMAC and KDF ----------------------------------------------------
    cmac_rows = self_check()
    kdf_rows = []
    for key, label, ctx, l_bits in [
        (k128, "keycard/diversify", serials[0], 128),
        (k128, "keycard/chain-seed", serials[1] + pattern(16, 0xA0), 256),
        (k128, "test", b"", 8),
        (k128, "", pattern(3, 0x11), 136),
        (k256, "keycard/diversify", serials[0], 256),
        (k256, "keycard/envelope", serials[2] + be(7, 4), 384),
        (k256, "keycard/response", serials[1] + be(1, 4), 128),
        (k256, "a-rather-long-label/for/several/cmac/blocks", pattern(40, 0x33, 7), 520),
    ]:
        kdf_rows.append({"key": h(key), "label": label, "context": h(ctx), "L": l_bits,
                         "out": h(kdf(key, label, ctx, l_bits))})
    siv_rows = [{"key": "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
                 "ad": ["101112131415161718191a1b1c1d1e1f2021222324252627"],
                 "plaintext": "112233445566778899aabbccddee",
                 "out": "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c",
                 "source": "RFC 5297 A.1"}]
    for key, ads, pt in [(pattern(64, 0x0F, 3), [pattern(16, 0x84)], pattern(64, 0x20)),
                         (pattern(64, 0xE1), [pattern(16, 0x01), pattern(5, 9)], pattern(5, 0x30)),
                         (pattern(32, 0x44), [], pattern(1024, 0x7F, 5))]:
        siv_rows.append({"key": h(key), "ad": [h(a) for a in ads], "plaintext": h(pt),
                         "out": h(AESSIV(key).encrypt(pt, ads if ads else None))})
    write("kdf.json", "AES-CMAC (RFC 4493 anchors), SP 800-108 counter-mode KDF "
          "with AES-CMAC PRF: T_i = CMAC(K, [i]_1 || label || 00 || context || [L]_2), "
          "and AES-SIV (RFC 5297; out = V || C)",
          {"cmac": cmac_rows, "kdf": kdf_rows, "siv": siv_rows})

    # ---- diversification ---------------------------------------------------
    div_rows = []
    for master in (k128, k256, pattern(16, 0xF0, 3)):
        for serial in serials[:2]:
            div_rows.append({"master": h(master), "serial": h(serial),
                             "kcard": h(diversify(master, serial))})
    write("diversify.json", "Kcard = KDF(Kmaster, \"keycard/diversify\", serial, 8*len(Kmaster))",
          {"vectors": div_rows})

    # ---- chain runs (and static mode) -----------------------------------
    chain_rows = []
    for master, serial, nt, nk, seed, mode in [
        (k128, serials[0], pattern(16, 0xB0), pattern(16, 0xC0), None, "chain"),
        (k256, serials[1], pattern(16, 0x10, 5), pattern(16, 0x55, 3), pattern(16, 0xA0), "chain"),
        (pattern(16, 0x99), serials[2], bytes(16), bytes(16), None, "chain"),
        (k256, serials[0], pattern(16, 0x31), pattern(16, 0x71), None, "static"),
    ]:
        kcard = diversify(master, serial)
        sctx = session_ctx(serial, nt, nk, seed)
        run = {"mode": mode, "master": h(master), "serial": h(serial), "kcard": h(kcard),
               "nt": h(nt), "nk": h(nk), "seed": h(seed) if seed else None, "sctx": h(sctx),
               "steps": []}
        if mode == "chain":
            r = chain_seed(kcard, sctx)
            run["r0"] = h(r)
        else:
            base = static_base(kcard, sctx)
            run["base"] = h(base)
        for c in range(1, 5):
            r = chain_step(r, serial, c) if mode == "chain" else static_key(base, serial, c)
            kenv, kresp = env_keys(r, serial, c)
            run["steps"].append({"c": c, "r": h(r), "kenv": h(kenv), "kresp": h(kresp)})
        chain_rows.append(run)
    write("chain.json", "sctx = serial||Nt||Nk||seed (seed 0^16 unless way 04); "
          "R_0 = KDF(Kcard, \"keycard/v2/chain-seed\", sctx, 256); "
          "R_c = KDF(R_{c-1}, \"keycard/chain-step\", serial||[c]_4, 256); static: "
          "B = KDF(Kcard, \"keycard/v2/static-base\", sctx, 256), "
          "R_c = KDF(B, \"keycard/static\", serial||[c]_4, 256); Kenv (512 bits)/Kresp per step",
          {"runs": chain_rows})

    # ---- envelopes -----------------------------------------------------------
    env_rows = []
    base_r = bytes.fromhex(chain_rows[0]["steps"][0]["r"])
    cases = []
    for i, b in enumerate(BUCKETS):
        cases.append((b, 1 + i, bytes([0x00, 0xE0, 0x00, 0x00]), pattern(min(b - 7, 20 + 37 * i), i)))
    cases.append((64, 2, bytes([0x80, 0xE4, 0x01, 0x02]), b""))               # no data
    cases.append((64, 3, bytes([0x00, 0xD6, 0x00, 0x10]), pattern(57, 0x5A)))  # exactly full
    cases.append((1024, 0x01020304, bytes([0x80, 0xDA, 0x01, 0x6E]), pattern(1017, 0xC3, 11)))
    cases.append((256, 9, bytes([0x00, 0xA4, 0x04, 0x00]), pattern(200, 0x00)))
    for idx, (bucket, c, hdr, data) in enumerate(cases):
        serial = serials[idx % 3]
        r = kdf(base_r, "vectors/envelope-r", be(idx, 4), 256)  # any 32-byte R_c
        kenv, kresp = env_keys(r, serial, c)
        pt = plaintext(bucket, hdr, data)
        apdu = seal_raw(r, serial, c, pt)
        env_rows.append({"r": h(r), "serial": h(serial), "c": c, "bucket": bucket,
                         "hdr": h(hdr), "data": h(data), "kenv": h(kenv), "kresp": h(kresp),
                         "plaintext": h(pt), "apdu": h(apdu), "extended": len(apdu) > bucket + 26})
    # Authentic envelopes whose plaintext is malformed: open must say bad data.
    bad_rows = []
    r = kdf(base_r, "vectors/bad-padding", b"", 256)
    hdr = bytes([0x00, 0xE0, 0x00, 0x00])
    good = plaintext(64, hdr, pattern(10, 1))
    bad_pts = [
        ("inner Lc beyond the bucket", hdr + be(58, 2) + good[6:]),
        ("inner Lc 0xFFFF", hdr + b"\xff\xff" + good[6:]),
        ("no 0x80 mark", good[:16] + b"\x00" + good[17:]),
        ("non-zero byte after the mark", good[:63] + b"\x01"),
        ("mark too late (Lc one short)", hdr + be(9, 2) + good[6:]),
    ]
    for c, (why, pt) in enumerate(bad_pts, start=1):
        bad_rows.append({"why": why, "r": h(r), "serial": h(serials[0]), "c": c,
                         "plaintext": h(pt), "apdu": h(seal_raw(r, serials[0], c, pt))})
    write("envelope.json", "ENVELOPE APDU 84 C2 00 00 Lc [c]_4||C||V Le; AES-256-SIV "
          "(RFC 5297) under Kenv = K1||K2 with AD = 84C20000||serial||[c]_4 over the "
          "bucket-padded inner command; V the synthetic IV, 16 bytes",
          {"vectors": env_rows, "bad_padding": bad_rows})

    # ---- response MACs -----------------------------------------------------
    resp_rows = []
    for i, (sw, data) in enumerate([(b"\x90\x00", b""), (b"\x6A\x82", b""),
                                    (b"\x90\x00", pattern(32, 0x77)),
                                    (b"\x61\x10", pattern(255, 0x01, 3))]):
        serial = serials[i % 3]
        c = [1, 2, 17, 0x00FFFFFF][i]
        r = kdf(base_r, "vectors/response-r", be(i, 4), 256)
        mac = resp_mac(r, serial, c, sw, data)
        _, kresp = env_keys(r, serial, c)
        resp_rows.append({"r": h(r), "serial": h(serial), "c": c, "sw": h(sw), "data": h(data),
                          "kresp": h(kresp), "mac": h(mac),
                          "resp": h(be(c, 4) + sw + data + mac)})
    write("response.json", "response data [c]_4||SW1SW2||data||M, "
          "M = AES-CMAC(Kresp, [c]_4||SW1SW2||data)", {"vectors": resp_rows})

    # ---- completion MAC ----------------------------------------------------
    comp_rows = []
    for run, steps, lock_way, lock_data in [
        (chain_rows[0], [(1, b"\x90\x00"), (2, b"\x90\x00"), (3, b"\x90\x00")], 0x04, b""),
        (chain_rows[1], [(1, b"\x90\x00"), (2, b"\x6A\x80"), (3, b"\x90\x00")], 0x02,
         bytes.fromhex("E0D8D6DC1E")),
        (chain_rows[3], [(1, b"\x90\x00"), (2, b"\x90\x00"), (3, b"\x62\x83")], 0x03,
         bytes.fromhex("1FFF")),
    ]:
        kcard = bytes.fromhex(run["kcard"])
        sctx = bytes.fromhex(run["sctx"])
        serial = bytes.fromhex(run["serial"])
        kcomp = completion_key(kcard, sctx)
        hh, mac = completion_mac(kcomp, serial, steps, lock_way, lock_data)
        comp_rows.append({"kcard": h(kcard), "serial": h(serial), "sctx": h(sctx),
                          "kcomp": h(kcomp), "steps": [{"c": c, "sw": h(sw)} for c, sw in steps],
                          "lock_way": lock_way, "lock_data": h(lock_data),
                          "h": h(hh), "mac": h(mac)})
    write("completion.json", "Kcomp = KDF(Kcard, \"keycard/v2/completion\", sctx, 128); "
          "H = SHA-256(concat [c]_4||SW1SW2); "
          "MAC = AES-CMAC(Kcomp, serial||[n]_4||H||lock_way||[len]_1||lock_data)",
          {"vectors": comp_rows})

    # ---- previous-random chain -------------------------------------------
    prev_rows = []
    for p0 in (pattern(32, 0x21), pattern(32, 0xFE, 13)):
        p = p0
        run = {"p0": h(p0), "steps": []}
        for serial in serials[:2]:
            seed, nxt = prev_random(p, serial)
            run["steps"].append({"serial": h(serial), "seed": h(seed), "next": h(nxt)})
            p = nxt
        prev_rows.append(run)
    write("prev_random.json", "seed = KDF(P, \"keycard/previous-random/seed\", serial, 128); "
          "P' = KDF(P, \"keycard/previous-random/next\", serial, 256)", {"runs": prev_rows})

    # ---- whole sessions, APDU by APDU -------------------------------------
    write("session.json", "Whole issuance sessions on the wire (docs/protocol.md 3-8, "
          "docs/apdu.md ISSUE BEGIN, docs/target-card.md BEGIN/BIND): every APDU the "
          "target card receives and every answer it must give",
          {"sessions": [session_vector(k128, serials[1], 0x03, None),
                        session_vector(k256, serials[0], 0x04, pattern(16, 0x6C, 7)),
                        session_vector(k256, serials[2], 0x01, None)] +
                       packed_sessions(k128, k256, serials)})


# ---- secure channel (docs/protocol.md "Secure channel") ----------------------

def p256_pair(scalar_hex):
    """A P-256 key pair from a fixed scalar: (private object, 65-byte uncompressed point)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import serialization
    priv = ec.derive_private_key(int(scalar_hex, 16), ec.SECP256R1())
    pub = priv.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)
    return priv, pub


def ecdh_x(priv, pub):
    from cryptography.hazmat.primitives.asymmetric import ec
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)
    return priv.exchange(ec.ECDH(), peer)


def sm_apdu(cla, ins, p1, p2, data, ne):
    """Short or extended APDU as libkeycard's kcl_apdu_build encodes it (ne 0: no Le)."""
    ext = len(data) > 255 or ne > 256
    out = bytes([cla, ins, p1, p2])
    if data:
        out += (b"\x00" + be(len(data), 2)) if ext else bytes([len(data)])
        out += data
    if ne:
        if ext:
            out += (b"" if data else b"\x00") + be(ne & 0xFFFF, 2)
        else:
            out += bytes([ne & 0xFF])
    return out


def sm_wrap(s_enc, ctr, cla, ins, p1, p2, data, ne):
    """Outer command: CLA|04, data [ctr]_4 || GCM(S-ENC) || tag, Le = inner Le + 18."""
    ocla = cla | 0x04
    iv = b"\x01" + bytes(3) + be(ctr, 4) + bytes(4)
    aad = bytes([ocla, ins, p1, p2]) + be(ctr, 4)
    ct = AESGCM(s_enc).encrypt(iv, data, aad)
    return sm_apdu(ocla, ins, p1, p2, be(ctr, 4) + ct, min(ne + 18, 65536))


def sm_resp(s_renc, ctr, data, sw):
    """Outer answer: GCM(S-RENC, inner data || inner SW) || tag, then 90 00."""
    iv = b"\x02" + bytes(3) + be(ctr, 4) + bytes(4)
    return AESGCM(s_renc).encrypt(iv, data + sw, be(ctr, 4)) + b"\x90\x00"


def channel_kx(z1, z2):
    """One-step KDF (SP 800-56C, H = SHA-256): Kx = H([1]_4 || Z1 || Z2 || "keycard/channel/v2")."""
    return hashlib.sha256(be(1, 4) + z1 + z2 + b"keycard/channel/v2").digest()


# The key card's channel key SK.KA (section 9); keywrap.json wraps to the same card.
SK_KA_HEX = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"


def channel_vectors():
    ska_hex = SK_KA_HEX
    esk_hex = "519B423D715F8B581F4FA8EE59F4771A5B44C8130B4E3EACCA54A56DDA72B464"
    eskc_hex = "A3F1C2B4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F80"
    ska, pka = p256_pair(ska_hex)
    esk, epk = p256_pair(esk_hex)
    eskc, epkc = p256_pair(eskc_hex)
    z1 = ecdh_x(eskc, epk)  # card ephemeral x host ephemeral
    assert z1 == ecdh_x(esk, epkc)
    z2 = ecdh_x(ska, epk)  # card static x host ephemeral
    assert z2 == ecdh_x(esk, pka)
    kx = channel_kx(z1, z2)
    ctx = epk + epkc + pka
    keys = kdf(kx, "keycard/channel", ctx, 1024)
    s_enc, s_renc, s_rec = keys[:32], keys[32:64], keys[64:96]
    receipt = aes_cmac(s_rec, ctx)
    open_cmd = sm_apdu(0x80, 0x40, 0x00, 0x00, epk, 81)
    # A session on a key card provisioned from examples/profiles/demo.json.
    cmds = [
        ("VERIFY issuer PIN", 0x00, 0x20, 0x00, 0x81, b"13579135", 0, b"", b"\x90\x00"),
        ("VERIFY holder PIN", 0x00, 0x20, 0x00, 0x82, b"246810", 0, b"", b"\x90\x00"),
        ("GET DATA holder name", 0x00, 0xCA, 0x5F, 0x20, b"", 256, b"Demo Operator", b"\x90\x00"),
        ("GET DATA holder number", 0x00, 0xCA, 0xDF, 0x01, b"", 256, b"OP-0001", b"\x90\x00"),
        ("VERIFY issuer PIN, wrong", 0x00, 0x20, 0x00, 0x81, b"99999999", 0, b"", b"\x63\xC2"),
    ]
    rows = []
    for ctr, (what, cla, ins, p1, p2, data, ne, rdata, sw) in enumerate(cmds, start=1):
        rows.append({"what": what, "ctr": ctr, "inner": h(sm_apdu(cla, ins, p1, p2, data, ne)),
                     "command": h(sm_wrap(s_enc, ctr, cla, ins, p1, p2, data, ne)),
                     "inner_response": h(rdata + sw),
                     "response": h(sm_resp(s_renc, ctr, rdata, sw))})
    write("channel.json", "Secure channel v2: Z1 = ECDH x(eSK.C, ePK.H), Z2 = ECDH x(SK.KA, "
          "ePK.H); Kx = SHA-256([1]_4||Z1||Z2||\"keycard/channel/v2\"); keys = KDF(Kx, "
          "\"keycard/channel\", ePK.H||ePK.C||PK.KA, 1024) = S-ENC|S-RENC|S-RECEIPT|reserved; "
          "receipt = AES-CMAC(S-RECEIPT, ePK.H||ePK.C||PK.KA); OPEN CHANNEL answer ePK.C||receipt; "
          "command CLA|04, data [ctr]_4||"
          "GCM(S-ENC, IV 01 000000 [ctr]_4 00000000, AAD CLA INS P1 P2 [ctr]_4)||tag, "
          "Le = inner Le + 18; response GCM(S-RENC, IV 02 000000 [ctr]_4 00000000, AAD [ctr]_4) "
          "over inner data||SW, tag, 9000",
          {"sk_ka": ska_hex.lower(), "pk_ka": h(pka), "esk_h": esk_hex.lower(), "epk_h": h(epk),
           "esk_c": eskc_hex.lower(), "epk_c": h(epkc), "z1": h(z1), "z2": h(z2), "kx": h(kx),
           "ctx": h(ctx), "keys": h(keys), "s_enc": h(s_enc), "s_renc": h(s_renc),
           "s_receipt": h(s_rec), "receipt": h(receipt), "open_command": h(open_cmd),
           "open_response": h(epkc + receipt + b"\x90\x00"), "session": rows})


# ---- wrapped keys (docs/protocol.md 9a) ----------------------------------------

KW_MAGIC = b"\x4B\x57\x01"  # "KW", format 01
KW_TYPES = {0x01: 16, 0x02: 32}  # AES-128, AES-256: key length


def kw_kcv(key):
    """Key check value: AES-ECB(key, 16 x 01), first 3 bytes."""
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (enc.update(b"\x01" * 16) + enc.finalize())[:3]


def kw_keys(z, epk_w, pk_ka):
    """Kw = SHA-256([1]_4 || Z || "keycard/keywrap/v1"); K||IV = KDF(Kw, "keycard/keywrap",
    ePK.W || PK.KA, 352): K the first 32 bytes, IV the last 12."""
    kw = hashlib.sha256(be(1, 4) + z + b"keycard/keywrap/v1").digest()
    kiv = kdf(kw, "keycard/keywrap", epk_w + pk_ka, 352)
    return kw, kiv[:32], kiv[32:]


def kw_header(number, ktype, flags, version, kcv, frm, to, label):
    assert 1 <= number <= 254 and ktype in KW_TYPES and 1 <= version <= 255
    assert len(kcv) == 3 and len(frm) == 8 and len(to) == 8
    lab = label.encode("ascii")
    assert len(lab) <= 32 and all(0x20 <= c <= 0x7E for c in lab)
    return KW_MAGIC + bytes([number, ktype, flags, version]) + kcv + frm + to \
        + bytes([len(lab)]) + lab


def kw_unwrap(ska, pk_ka, blob):
    """The recipient's side, independent of the sender's intermediates: returns
    (header fields, key) or raises (cryptography.exceptions.InvalidTag on a bad tag)."""
    assert blob[:3] == KW_MAGIC
    label_len = blob[26]
    hdr_len = 27 + label_len
    hdr = blob[:hdr_len]
    epk_w = blob[hdr_len:hdr_len + 65]
    tag = blob[hdr_len + 65:hdr_len + 81]
    ct = blob[hdr_len + 81:]
    assert epk_w[0] == 0x04 and len(ct) == KW_TYPES[hdr[4]]
    _, k, iv = kw_keys(ecdh_x(ska, epk_w), epk_w, pk_ka)
    key = AESGCM(k).decrypt(iv, ct + tag, hdr)
    assert kw_kcv(key) == hdr[7:10], "KCV does not match the decrypted key"
    return {"number": hdr[3], "type": hdr[4], "flags": hdr[5], "version": hdr[6],
            "from": hdr[10:18], "to": hdr[18:26], "label": hdr[27:].decode("ascii")}, key


def keywrap_vectors():
    from cryptography.exceptions import InvalidTag
    ska, pka = p256_pair(SK_KA_HEX)
    recipient = bytes.fromhex("4B43000000000001")
    cases_in = [
        # eSK.W, key, number, type, flags, version, from, to, label
        ("6A1F0C3B5E7D9A2C4E8B1D3F5A7C9E0B2D4F6A8C1E3B5D7F9A0C2E4B6D8F1A3C",
         pattern(16, 0x40), 1, 0x01, 0x03, 1, bytes(8), recipient, "issuer-master"),
        ("1D3B5F7A9C2E4B6D8F0A1C3E5B7D9F2A4C6E8B0D1F3A5C7E9B2D4F6A8C0E1B3D",
         pattern(32, 0x50), 2, 0x02, 0x06, 1, bytes.fromhex("4B43000000000002"), recipient, ""),
        ("7E0C2A4B6D8F1E3C5A7B9D0F2E4C6A8B1D3F5E7A9C0B2D4F6E8A1C3B5D7F9E0A",
         pattern(16, 0xA5, 7), 254, 0x01, 0x0F, 7, bytes.fromhex("4B43000000000003"), recipient,
         "max label, 32 printable chars ~!"),
    ]
    assert len(cases_in[2][8]) == 32
    rows = []
    for esk_hex, key, number, ktype, flags, version, frm, to, label in cases_in:
        assert len(key) == KW_TYPES[ktype]
        esk, epk = p256_pair(esk_hex)
        z = ecdh_x(esk, pka)  # sender: eSK.W x PK.KA
        kw, k, iv = kw_keys(z, epk, pka)
        kcv = kw_kcv(key)
        hdr = kw_header(number, ktype, flags, version, kcv, frm, to, label)
        assert len(hdr) == 27 + len(label)
        ct_tag = AESGCM(k).encrypt(iv, key, hdr)  # C || T
        ct, tag = ct_tag[:-16], ct_tag[-16:]
        blob = hdr + epk + tag + ct  # T before C on the wire
        assert len(blob) == 108 + len(label) + len(key)
        # Self-check from the recipient's side: SK.KA x ePK.W, parse, decrypt.
        assert ecdh_x(ska, epk) == z
        fields, got = kw_unwrap(ska, pka, blob)
        assert got == key and fields == {"number": number, "type": ktype, "flags": flags,
                                         "version": version, "from": frm, "to": to,
                                         "label": label}
        for pos in (3, len(hdr) + 64, len(hdr) + 65, len(blob) - 1):  # hdr, ePK.W, T, C
            bad = bytearray(blob)
            bad[pos] ^= 0x01
            try:
                kw_unwrap(ska, pka, bytes(bad))
            except (InvalidTag, ValueError):
                continue
            sys.exit("keywrap self-check: a changed byte at %d still opens" % pos)
        rows.append({"sk_ka": SK_KA_HEX.lower(), "pk_ka": h(pka), "esk_w": esk_hex.lower(),
                     "epk_w": h(epk), "z": h(z), "kw": h(kw), "k": h(k), "iv": h(iv),
                     "key": h(key), "kcv": h(kcv), "number": number, "type": ktype,
                     "flags": flags, "version": version, "from": h(frm), "to": h(to),
                     "label": label, "hdr": h(hdr), "tag": h(tag), "ct": h(ct),
                     "blob": h(blob)})
    write("keywrap.json", "Wrapped key (docs/protocol.md 9a): Z = ECDH x(eSK.W, PK.KA) = "
          "x(SK.KA, ePK.W); Kw = SHA-256([1]_4||Z||\"keycard/keywrap/v1\"); K||IV = KDF(Kw, "
          "\"keycard/keywrap\", ePK.W||PK.KA, 352), K 32 bytes, IV 12; hdr = 4B5701||number||"
          "type||flags||version||kcv(3)||from(8)||to(8)||label_len||label; "
          "C||T = AES-256-GCM(K, IV, AAD hdr, key); blob = hdr||ePK.W||T||C; "
          "kcv = AES-ECB(key, 16 x 01), first 3 bytes; type 01 AES-128, 02 AES-256",
          {"cases": rows})


# ---- n-of-m backup (docs/protocol.md 9b) ------------------------------------

def gf_tables():
    """exp/log tables of GF(2^8) mod x^8+x^4+x^3+x^2+1 (0x11D), generator x (= 2)."""
    exp, log = [0] * 510, [None] * 256
    v = 1
    for i in range(255):
        exp[i] = v
        assert log[v] is None, "2 is not a generator"
        log[v] = i
        v <<= 1
        if v & 0x100:
            v ^= 0x11D
    assert v == 1 and sum(1 for e in log[1:] if e is not None) == 255
    for i in range(255, 510):
        exp[i] = exp[i - 255]
    return exp, log


GF_EXP, GF_LOG = gf_tables()


def gf_mul(a, b):
    if a == 0 or b == 0:
        return 0
    return GF_EXP[GF_LOG[a] + GF_LOG[b]]


def gf_div(a, b):
    assert b != 0
    if a == 0:
        return 0
    return GF_EXP[GF_LOG[a] - GF_LOG[b] + 255]


def bk_coefficients(seed, m):
    """a_1 .. a_{m-1}: a_k = KDF(seed, "keycard/backup/poly", [k]_1, 256)."""
    return [kdf(seed, "keycard/backup/poly", bytes([k]), 256) for k in range(1, m)]


def bk_share(bk, seed, m, x):
    """y[j] = f_j(x) = bk[j] + sum_k a_k[j] x^k, each power of x computed on its own."""
    assert 2 <= m <= 8 and 1 <= x <= 255 and len(bk) == 32
    coefs = bk_coefficients(seed, m)
    y = bytearray(bk)
    xk = 1
    for a in coefs:
        xk = gf_mul(xk, x)
        for j in range(32):
            y[j] ^= gf_mul(a[j], xk)
    return bytes(y)


def bk_combine(points):
    """Lagrange at 0 over [(x, y)]: sum_i y_i prod_{j != i} x_j / (x_j - x_i)."""
    xs = [x for x, _ in points]
    assert len(set(xs)) == len(xs) and 0 not in xs
    out = bytearray(32)
    for i, (xi, yi) in enumerate(points):
        li = 1
        for j, xj in enumerate(xs):
            if j != i:
                li = gf_mul(li, gf_div(xj, xj ^ xi))
        for b in range(32):
            out[b] ^= gf_mul(yi[b], li)
    return bytes(out)


BK_MAGIC = b"\x4B\x57\x02"  # "KW", format 02: a backup blob


def bk_header(number, ktype, flags, version, kcv, frm, backup_id, label):
    lab = label.encode("ascii")
    assert 1 <= number <= 254 and ktype in KW_TYPES and 1 <= version <= 255
    assert flags and not flags & ~0x0F and len(lab) <= 32 and all(0x20 <= c <= 0x7E for c in lab)
    return (BK_MAGIC + bytes([number, ktype, flags, version]) + kcv + frm + backup_id
            + bytes([len(lab)]) + lab)


def bk_keys(bk, backup_id, number):
    """K || IV = KDF(BK, "keycard/backup", id || [number]_1, 352)."""
    kiv = kdf(bk, "keycard/backup", backup_id + bytes([number]), 352)
    return kiv[:32], kiv[32:]


def bk_open(bk, blob):
    """Restore's side: parse, decrypt, check the KCV. Returns (fields, key) or raises."""
    assert blob[:3] == BK_MAGIC
    hdr_len = 27 + blob[26]
    hdr, tag, ct = blob[:hdr_len], blob[hdr_len:hdr_len + 16], blob[hdr_len + 16:]
    assert len(ct) == KW_TYPES[hdr[4]]
    k, iv = bk_keys(bk, hdr[18:26], hdr[3])
    key = AESGCM(k).decrypt(iv, ct + tag, hdr)
    assert kw_kcv(key) == hdr[7:10], "KCV does not match the decrypted key"
    return {"number": hdr[3], "type": hdr[4], "flags": hdr[5], "version": hdr[6],
            "from": hdr[10:18], "id": hdr[18:26], "label": hdr[27:].decode("ascii")}, key


def backup_vectors():
    import itertools
    from cryptography.exceptions import InvalidTag
    # Field anchors: x * x^-1 = 1 for all x, and x^8 = x^4+x^3+x^2+1.
    assert all(gf_mul(a, gf_div(1, a)) == 1 for a in range(1, 256))
    assert gf_mul(0x80, 2) == 0x1D and gf_mul(0x53, 0xCA) == gf_mul(0xCA, 0x53)
    cases_in = [
        # m, n, bk, seed, id, from, key, number, type, flags, version, label
        (3, 5, pattern(32, 0x10, 3), pattern(32, 0xC0, 5), pattern(8, 0xB0),
         bytes.fromhex("4B43000000000007"), pattern(16, 0x21, 9), 3, 0x01, 0x04, 1,
         "store auth master"),
        (2, 2, pattern(32, 0x77, 11), pattern(32, 0x05, 13), pattern(8, 0xE8, 3),
         bytes.fromhex("4B430000000000FE"), pattern(32, 0x9A, 5), 200, 0x02, 0x06, 2, ""),
    ]
    rows = []
    for (m, n, bk, seed, bid, frm, key, number, ktype, flags, version, label) in cases_in:
        assert len(key) == KW_TYPES[ktype] and len(bid) == 8 and len(frm) == 8
        ys = {x: bk_share(bk, seed, m, x) for x in range(1, n + 1)}
        shares = [bid + bytes([m, x]) + ys[x] for x in range(1, n + 1)]
        assert all(len(s) == 42 for s in shares)
        # Any m shares give BK, in any order; any m-1 do not.
        for sub in itertools.combinations(range(1, n + 1), m):
            assert bk_combine([(x, ys[x]) for x in sub]) == bk
            assert bk_combine([(x, ys[x]) for x in reversed(sub)]) == bk
        for sub in itertools.combinations(range(1, n + 1), m - 1):
            if m - 1 == 1:
                assert ys[sub[0]] != bk
            else:
                assert bk_combine([(x, ys[x]) for x in sub]) != bk
        # f(0) = BK: the polynomial at 0 is the secret itself.
        assert bk_combine([(x, ys[x]) for x in range(1, m + 1)]) == bk
        kcv = kw_kcv(key)
        hdr = bk_header(number, ktype, flags, version, kcv, frm, bid, label)
        assert len(hdr) == 27 + len(label)
        k, iv = bk_keys(bk, bid, number)
        ct_tag = AESGCM(k).encrypt(iv, key, hdr)
        blob = hdr + ct_tag[-16:] + ct_tag[:-16]  # T before C
        assert len(blob) == 43 + len(label) + len(key)
        fields, got = bk_open(bk, blob)
        assert got == key and fields == {"number": number, "type": ktype, "flags": flags,
                                         "version": version, "from": frm, "id": bid,
                                         "label": label}
        for pos in range(len(blob)):
            bad = bytearray(blob)
            bad[pos] ^= 0x01
            try:
                bk_open(bk, bytes(bad))
            except (InvalidTag, AssertionError, KeyError, UnicodeDecodeError):
                continue
            sys.exit("backup self-check: a changed byte at %d still opens" % pos)
        wrong = bytearray(bk)
        wrong[0] ^= 1
        try:
            bk_open(bytes(wrong), blob)
            sys.exit("backup self-check: another BK opens the blob")
        except InvalidTag:
            pass
        rows.append({"m": m, "n": n, "bk": h(bk), "seed": h(seed), "id": h(bid),
                     "from": h(frm), "key": h(key), "kcv": h(kcv), "number": number,
                     "type": ktype, "flags": flags, "version": version, "label": label,
                     "hdr": h(hdr), "blob": h(blob), "shares": [h(s) for s in shares]})
    write("backup.json", "n-of-m backup (docs/protocol.md 9b): GF(2^8) mod x^8+x^4+x^3+x^2+1 "
          "(0x11D); per byte j, f_j(x) = BK[j] + a_1[j] x + ... + a_{m-1}[j] x^{m-1}, "
          "a_k = KDF(seed, \"keycard/backup/poly\", [k]_1, 256); share = id(8)||m||x||f(x)(32); "
          "any m shares give BK by Lagrange at 0; hdr = 4B5702||number||type||flags||version||"
          "kcv(3)||from(8)||id(8)||label_len||label; K||IV = KDF(BK, \"keycard/backup\", "
          "id||[number]_1, 352), K 32 bytes, IV 12; C||T = AES-256-GCM(K, IV, AAD hdr, key); "
          "blob = hdr||T||C; kcv = AES-ECB(key, 16 x 01), first 3 bytes; type 01 AES-128, "
          "02 AES-256",
          {"cases": rows})


if __name__ == "__main__":
    main()
    channel_vectors()
    keywrap_vectors()
    backup_vectors()
