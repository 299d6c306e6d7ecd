#!/usr/bin/python3
"""pcsc_apdu.py - send APDUs to a PC/SC reader through pyscard, for the tests.

Usage: pcsc_apdu.py [--reader NAME] [--wait SECS] [--list] STEP...

A STEP is an APDU in hex (spaces allowed inside one argument) or one of
  :reset    reconnect with SCARD_RESET_CARD (a warm reset)
  :unpower  reconnect with SCARD_UNPOWER_CARD (a power cycle)
All steps run on one connection, so security state lasts between them.
Prints one line per APDU: the response data in hex and the status word,
e.g. "9000" or "C108... 9000". --list prints the reader names, one a line,
each followed by " [card]" when a card is present.
--wait waits up to SECS for a card in the reader before the first step.
Exit status: 0, 1 on a PC/SC error (said on stderr), 2 on bad usage.
"""
import sys
import time

from smartcard.scard import (SCARD_LEAVE_CARD,
                             SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1,
                             SCARD_RESET_CARD, SCARD_S_SUCCESS,
                             SCARD_SCOPE_USER, SCARD_SHARE_SHARED,
                             SCARD_STATE_PRESENT, SCARD_UNPOWER_CARD,
                             SCARD_STATE_UNAWARE, SCardConnect,
                             SCardDisconnect, SCardEstablishContext,
                             SCardGetErrorMessage, SCardGetStatusChange,
                             SCardListReaders, SCardReconnect,
                             SCardReleaseContext, SCardTransmit)

PROTOCOLS = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1


def fail(what, rv):
    sys.stderr.write("pcsc_apdu: %s: %s\n" % (what, SCardGetErrorMessage(rv)))
    sys.exit(1)


def card_present(ctx, reader):
    rv, states = SCardGetStatusChange(ctx, 0, [(reader, SCARD_STATE_UNAWARE)])
    return rv == SCARD_S_SUCCESS and bool(states[0][1] & SCARD_STATE_PRESENT)


def main(argv):
    reader_name = "Keycard Virtual Reader 00 00"
    wait = 0.0
    listing = False
    steps = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--reader", "--wait") and i + 1 < len(argv):
            if a == "--reader":
                reader_name = argv[i + 1]
            else:
                wait = float(argv[i + 1])
            i += 2
            continue
        if a == "--list":
            listing = True
        elif a.startswith("--"):
            sys.stderr.write("pcsc_apdu: unknown option %s\n" % a)
            return 2
        else:
            steps.append(a)
        i += 1

    rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    if rv != SCARD_S_SUCCESS:
        fail("no PC/SC service", rv)
    try:
        rv, readers = SCardListReaders(ctx, [])
        if rv != SCARD_S_SUCCESS:
            fail("cannot list readers", rv)
        if listing:
            for r in readers:
                print(r + (" [card]" if card_present(ctx, r) else ""))
            return 0
        if reader_name not in readers:
            sys.stderr.write("pcsc_apdu: no reader named '%s'\n" % reader_name)
            return 1
        deadline = time.time() + wait
        while not card_present(ctx, reader_name) and time.time() < deadline:
            time.sleep(0.1)
        rv, card, proto = SCardConnect(ctx, reader_name, SCARD_SHARE_SHARED, PROTOCOLS)
        if rv != SCARD_S_SUCCESS:
            fail("cannot connect to the card in '%s'" % reader_name, rv)
        for s in steps:
            if s in (":reset", ":unpower"):
                disp = SCARD_RESET_CARD if s == ":reset" else SCARD_UNPOWER_CARD
                rv, proto = SCardReconnect(card, SCARD_SHARE_SHARED, PROTOCOLS, disp)
                if rv != SCARD_S_SUCCESS:
                    fail("reconnect (%s)" % s, rv)
                continue
            try:
                apdu = list(bytes.fromhex(s))
            except ValueError:
                sys.stderr.write("pcsc_apdu: not hex: %s\n" % s)
                return 2
            rv, resp = SCardTransmit(card, proto, apdu)
            if rv != SCARD_S_SUCCESS:
                fail("transmit", rv)
            data, sw = bytes(resp[:-2]), bytes(resp[-2:])
            print((data.hex().upper() + " " if data else "") + sw.hex().upper())
            sys.stdout.flush()
        SCardDisconnect(card, SCARD_LEAVE_CARD)
        return 0
    finally:
        SCardReleaseContext(ctx)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
