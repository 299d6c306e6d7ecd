#!/usr/bin/python3
"""channel_replay.py - replay captured secure channel APDUs into new sessions.

Usage: channel_replay.py READER APDU-FILE

APDU-FILE holds wrapped command APDUs (hex, one a line) captured from the
pcscd log of an earlier run. For each, this script opens a new secure channel
with the key card in READER (its own ephemeral key, an independent host
implementation of docs/protocol.md section 9 over pyscard and `cryptography`),
checks the receipt, sends the captured APDU and expects 6988 (refused; the
channel ends). Then it sends every APDU once more with no channel open and
expects anything but 9000. Prints one "ok"/"not ok" line per APDU and exits 1
when any was accepted.
"""
import hashlib
import sys

from cryptography.hazmat.primitives import cmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from smartcard.System import readers

AID = bytes.fromhex("F04B4559434152440001")


def kdf(key, label, ctx, l_bits):
    fixed = label.encode() + b"\x00" + ctx + l_bits.to_bytes(2, "big")
    out, i = b"", 1
    while len(out) < l_bits // 8:
        c = cmac.CMAC(algorithms.AES(key))
        c.update(bytes([i]) + fixed)
        out += c.finalize()
        i += 1
    return out[:l_bits // 8]


def send(conn, apdu):
    data, sw1, sw2 = conn.transmit(list(apdu))
    return bytes(data), (sw1 << 8) | sw2


def open_channel(conn):
    _, sw = send(conn, bytes([0x00, 0xA4, 0x04, 0x0C, len(AID)]) + AID)
    if sw != 0x9000:
        sys.exit("SELECT: %04X" % sw)
    cert, sw = send(conn, bytes.fromhex("00CADF0700"))
    if sw != 0x9000 or len(cert) != 143:
        sys.exit("GET DATA DF07: %04X" % sw)
    pka = cert[12:77]
    esk = ec.generate_private_key(ec.SECP256R1())
    epk = esk.public_key().public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    answer, sw = send(conn, bytes([0x80, 0x40, 0x00, 0x00, 65]) + epk + bytes([81]))
    if sw != 0x9000 or len(answer) != 81:
        sys.exit("OPEN CHANNEL: %04X, %d bytes" % (sw, len(answer)))
    epkc, receipt = answer[:65], answer[65:]
    z1 = esk.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epkc))
    z2 = esk.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pka))
    kx = hashlib.sha256(b"\x00\x00\x00\x01" + z1 + z2 + b"keycard/channel/v2").digest()
    ctx = epk + epkc + pka
    keys = kdf(kx, "keycard/channel", ctx, 1024)
    c = cmac.CMAC(algorithms.AES(keys[64:96]))
    c.update(ctx)
    if c.finalize() != receipt:
        sys.exit("OPEN CHANNEL: receipt does not verify")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rd = [r for r in readers() if str(r) == sys.argv[1]]
    if not rd:
        sys.exit("no reader %s" % sys.argv[1])
    conn = rd[0].createConnection()
    conn.connect()
    apdus = [bytes.fromhex(l.strip()) for l in open(sys.argv[2]) if l.strip()]
    bad = 0
    for n, apdu in enumerate(apdus, start=1):
        open_channel(conn)
        _, sw = send(conn, apdu)
        if sw == 0x6988:
            print("ok - captured APDU %d (%02X %02X) refused in a new session: 6988" %
                  (n, apdu[0], apdu[1]))
        else:
            bad += 1
            print("not ok - captured APDU %d accepted in a new session: %04X" % (n, sw))
    send(conn, bytes([0x00, 0xA4, 0x04, 0x0C, len(AID)]) + AID)
    for n, apdu in enumerate(apdus, start=1):
        _, sw = send(conn, apdu)
        if sw == 0x9000:
            bad += 1
            print("not ok - captured APDU %d accepted with no channel" % n)
    print("%d captured APDUs replayed, %d accepted" % (len(apdus), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
