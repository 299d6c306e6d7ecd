#!/usr/bin/python3
"""hostile_apdus.py - random and malformed commands through pcscd to a card.

Usage: hostile_apdus.py READER COUNT SEED

Sends COUNT commands of 1 to 600 bytes (random bytes; truncated headers of
1 to 3 bytes; real headers with wrong Lc/Le; extended lengths that lie;
garbage after a valid command) on one connection and checks that each one
gets an answer of at least a status word. Commands that would spend a
PIN try or change credentials (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
COUNTER of either card) are skipped, and so are the 1-byte commands 00, 01,
02 and 04, which vpcd cannot tell from its controls (docs/apdu.md). Prints
one summary line; exit 0 when every command was answered, 1 otherwise.
"""
import random
import sys

from smartcard.scard import (SCARD_LEAVE_CARD, SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1,
                             SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCARD_SHARE_SHARED,
                             SCardConnect, SCardDisconnect, SCardEstablishContext,
                             SCardGetErrorMessage, SCardReleaseContext, SCardTransmit)

CREDENTIAL_INS = (0x20, 0x24, 0x2C)
CONTROLS = (0x00, 0x01, 0x02, 0x04)


def command(rng):
    kind = rng.randrange(6)
    if kind == 0:  # 1 to 3 bytes
        n = rng.randint(1, 3)
        c = [rng.randrange(256) for _ in range(n)]
        while n == 1 and c[0] in CONTROLS:
            c = [rng.randrange(256)]
        return c
    if kind == 1:  # anything, 4 to 600 bytes
        return [rng.randrange(256) for _ in range(rng.randint(4, 600))]
    hdr = [rng.choice((0x00, 0x80, 0x84, 0x04, 0x10, 0x90, 0xFF)), rng.randrange(256),
           rng.randrange(256), rng.randrange(256)]
    if kind == 2:  # short Lc that lies
        data = [rng.randrange(256) for _ in range(rng.randint(0, 300))]
        return hdr + [rng.randrange(256)] + data
    if kind == 3:  # extended Lc that lies
        data = [rng.randrange(256) for _ in range(rng.randint(0, 593))]
        return hdr + [0x00, rng.randrange(256), rng.randrange(256)] + data
    if kind == 4:  # a valid case 4 command followed by garbage
        data = [rng.randrange(256) for _ in range(rng.randint(1, 40))]
        return hdr + [len(data)] + data + [0x00] + [rng.randrange(256)
                                                   for _ in range(rng.randint(1, 8))]
    # case 2 with Le, or case 1
    return hdr + ([rng.randrange(256)] if rng.randrange(2) else [])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    reader, count, seed = argv[0], int(argv[1]), int(argv[2])
    rng = random.Random(seed)
    rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    if rv != SCARD_S_SUCCESS:
        sys.stderr.write("hostile_apdus: %s\n" % SCardGetErrorMessage(rv))
        return 1
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED,
                                   SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    if rv != SCARD_S_SUCCESS:
        sys.stderr.write("hostile_apdus: connect %s: %s\n" % (reader, SCardGetErrorMessage(rv)))
        return 1
    sent = unanswered = skipped = 0
    sizes = [0, 0]
    for _ in range(count):
        c = command(rng)
        if len(c) >= 2 and c[1] in CREDENTIAL_INS and (c[0] & 0xF0) in (0x00, 0x80):
            skipped += 1
            continue
        rv, resp = SCardTransmit(card, proto, c)
        sent += 1
        sizes[0] = min(sizes[0] or len(c), len(c))
        sizes[1] = max(sizes[1], len(c))
        if rv != SCARD_S_SUCCESS or len(resp) < 2:
            unanswered += 1
            if unanswered <= 5:
                sys.stderr.write("hostile_apdus: %s: no answer to %s (%s)\n" %
                                 (reader, bytes(c[:16]).hex(), SCardGetErrorMessage(rv)))
    SCardDisconnect(card, SCARD_LEAVE_CARD)
    SCardReleaseContext(ctx)
    print("%s: %d commands of %d to %d bytes sent, %d answered, %d not (%d credential "
          "commands skipped)" % (reader, sent, sizes[0], sizes[1], sent - unanswered, unanswered,
                                 skipped))
    return 0 if unanswered == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
