#!/usr/bin/python3
"""report.py - the last step of `make bench`: merges what tests/bench/run.sh
collected (kc_bench's sim.json and pcsc.json, size(1) of the firmware objects,
kc-vcard's peak RSS, the machine), applies the contact-link model, judges the
targets of the issue and prints the table; writes one JSON object.

    report.py WORKDIR OUT.json SECONDS
"""
import json
import sys

# Contact-link model (ISO 7816-3, T=1 framing): every byte costs 12 etu
# (start bit, 8 data bits, parity, 2 etu guard time); every APDU is one
# command block and one response block of 3 prologue + 1 epilogue (LRC) bytes
# each; and every APDU pays a fixed turnaround for the two changes of
# direction (reader to card and back), not counting the card's own work.
ETU_PER_BYTE = 12
T1_FRAMING_BYTES_PER_APDU = 8
TURNAROUND_MS_PER_APDU = 1.0
RATES = (9600, 412000)

# The targets.
T_WRAP_LINK = 0.9
T_KC_ROUND_TRIPS = 3
T_SIM_RAW = 0.5
T_WEAR_CARDS = 10_000_000
T_RAM = 16 * 1024
T_CODE = 128 * 1024
T_HEADS_4 = 3.0  # one key card, 4 target heads: cards/h >= 3 x one head
T_LINE_EFF = 0.5  # inner-command bytes / target-line bytes, packed
T_CONTACT_PACKED = 3.0  # contact model at 9600 bit/s, one head: packed >= 3 x one per envelope


def contact_ms(apdus, nbytes, bps):
    wire = (nbytes + T1_FRAMING_BYTES_PER_APDU * apdus) * ETU_PER_BYTE / bps * 1e3
    return wire + TURNAROUND_MS_PER_APDU * apdus


def main():
    work, out, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(f"{work}/sim.json") as f:
        sim = json.load(f)
    with open(f"{work}/pcsc.json") as f:
        pc = json.load(f)
    machine = {}
    with open(f"{work}/machine.txt") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            machine[k] = v
    # size -t: text data bss dec hex filename; the last line is the total.
    with open(f"{work}/size.txt") as f:
        tot = f.read().strip().splitlines()[-1].split()
    text, data, bss = int(tot[0]), int(tot[1]), int(tot[2])
    rss = {}
    for c in ("keycard", "target"):
        with open(f"{work}/rss-{c}.kb") as f:
            rss[c] = int(f.read().strip() or 0)

    r = {"machine_nproc": int(machine.get("nproc", 0)), "machine_cpu": machine.get("cpu", ""),
         "machine_kernel": machine.get("kernel", ""), "mbedtls_version": machine.get("mbedtls", "")}
    r.update(pc)
    r.update(sim)

    # (5) the contact-link model over the counted bytes.
    kc_bytes = pc["card_keycard_cmd_bytes"] + pc["card_keycard_resp_bytes"]
    t_bytes = pc["card_target_cmd_bytes"] + pc["card_target_resp_bytes"]
    r["card_keycard_bytes"] = kc_bytes
    r["card_target_bytes"] = t_bytes
    r["card_keycard_round_trips"] = pc["card_keycard_apdus"]
    r["contact_model"] = (f"{ETU_PER_BYTE} etu per byte; T=1 framing "
                          f"{T1_FRAMING_BYTES_PER_APDU} bytes per APDU (command + response "
                          f"block); {TURNAROUND_MS_PER_APDU:g} ms turnaround per APDU; card "
                          f"computation not included; key card and target on separate "
                          f"lines used one after the other")
    r["contact_turnaround_ms_per_apdu"] = TURNAROUND_MS_PER_APDU
    for bps in RATES:
        k = contact_ms(pc["card_keycard_apdus"], kc_bytes, bps)
        t = contact_ms(pc["card_target_apdus"], t_bytes, bps)
        tag = f"{bps // 1000}k" if bps % 1000 == 0 and bps >= 100000 else str(bps)
        r[f"contact_{tag}_bps_keycard_line_ms"] = k
        r[f"contact_{tag}_bps_target_line_ms"] = t
        r[f"contact_{tag}_bps_card_ms"] = k + t
        r[f"contact_{tag}_bps_cards_per_hour"] = 3600e3 / (k + t)
        r[f"contact_{tag}_bps_keycard_share"] = k / (k + t)

    # The same card one inner command per envelope (the baseline measured in
    # the same run) and the line efficiency of both: the inner commands'
    # bytes as plain APDUs (sim: what the key card's templates made) over
    # the bytes the target line carried.
    u_kc = pc["card_unpacked_keycard_cmd_bytes"] + pc["card_unpacked_keycard_resp_bytes"]
    u_t = pc["card_unpacked_target_cmd_bytes"] + pc["card_unpacked_target_resp_bytes"]
    r["card_unpacked_keycard_bytes"] = u_kc
    r["card_unpacked_target_bytes"] = u_t
    r["line_efficiency"] = sim["card_inner_bytes"] / t_bytes
    r["line_efficiency_unpacked"] = sim["card_inner_bytes"] / u_t
    for bps in RATES:
        k = contact_ms(pc["card_unpacked_keycard_apdus"], u_kc, bps)
        t = contact_ms(pc["card_unpacked_target_apdus"], u_t, bps)
        tag = f"{bps // 1000}k" if bps % 1000 == 0 and bps >= 100000 else str(bps)
        r[f"contact_{tag}_bps_unpacked_card_ms"] = k + t
        r[f"contact_{tag}_bps_unpacked_cards_per_hour"] = 3600e3 / (k + t)
        r[f"contact_{tag}_bps_ratio_to_unpacked"] = (
            r[f"contact_{tag}_bps_cards_per_hour"] / r[f"contact_{tag}_bps_unpacked_cards_per_hour"])

    # What the key card's own work is of a WRAP round trip: its in-process
    # time per envelope against the time per envelope over PC/SC.
    r["keycard_work_us_per_envelope"] = 1e6 / sim["wrap_sim_envelopes_per_s"]
    r["keycard_work_share_of_wrap_round_trip"] = (
        pc["wrap_pcsc_envelopes_per_s"] / sim["wrap_sim_envelopes_per_s"])

    # The journal's cost per card (kc_jbench: claim, issuing, settle), as a
    # ratio to the card's own time over vpcd and on a contact line.
    for db in ("sqlite", "pgsql"):
        try:
            with open(f"{work}/journal-{db}.json") as f:
                jr = json.load(f)
        except FileNotFoundError:
            continue
        r.update(jr)
        ms = jr[f"journal_{db}_ms_per_card"]
        r[f"journal_{db}_ratio_to_card_vpcd"] = ms / pc["card_ms"]
        r[f"journal_{db}_ratio_to_card_contact_9600"] = ms / r["contact_9600_bps_card_ms"]

    # The contact model with N heads: each head its own target line, the key
    # card's line shared; a head's card takes K + T (its key card exchanges,
    # then its envelopes), the key card's line is busy K per card. So N heads
    # give min(N / (K + T), 1 / K) cards per unit of time (card changes not
    # counted).
    for bps in RATES:
        tag = f"{bps // 1000}k" if bps % 1000 == 0 and bps >= 100000 else str(bps)
        k = r[f"contact_{tag}_bps_keycard_line_ms"]
        t = r[f"contact_{tag}_bps_target_line_ms"]
        for n in (1, 2, 4, 8):
            r[f"contact_{tag}_bps_{n}_heads_cards_per_hour"] = 3600e3 * min(n / (k + t), 1 / k)

    # Several target heads on one key card (tests/bench/heads.sh): cards/h as a
    # ratio to N x the one-head figure, and to the key card's own limit (its
    # busy time per card with 8 heads, measured by kc-issue).
    try:
        with open(f"{work}/heads.json") as f:
            hd = json.load(f)
    except FileNotFoundError:
        hd = {}
    r.update(hd)
    if hd:
        one = hd["heads_1_cards_per_hour"]
        busy = hd.get("heads_8_keycard_busy_ms_per_card")
        r["keycard_limit_cards_per_hour"] = 3600e3 / busy if busy else None
        for n in (1, 2, 4, 8):
            r[f"heads_{n}_ratio_to_n_one_head"] = hd[f"heads_{n}_cards_per_hour"] / (n * one)
            r[f"heads_{n}_ratio_to_keycard_limit"] = (
                hd[f"heads_{n}_cards_per_hour"] / r["keycard_limit_cards_per_hour"]
                if busy else None)
        r["heads_4_ratio_to_one_head"] = hd["heads_4_cards_per_hour"] / one

    # (7) footprint.
    ctx = sim["keycard_ctx_bytes"]
    r["firmware_code_bytes"] = text
    r["firmware_data_bytes"] = data
    r["firmware_bss_bytes"] = bss
    r["firmware_ctx_bytes"] = ctx
    r["firmware_static_ram_bytes"] = data + bss + ctx
    r["kc_vcard_keycard_peak_rss_kib"] = rss["keycard"]
    r["kc_vcard_target_peak_rss_kib"] = rss["target"]
    r["bench_wall_s"] = seconds

    targets = {
        "wrap_pcsc_ratio_to_link": (r["wrap_pcsc_ratio_to_link"], ">=", T_WRAP_LINK),
        "keycard_round_trips_per_card": (r["card_keycard_round_trips"], "<=", T_KC_ROUND_TRIPS),
        "wrap_sim_ratio_to_raw": (r["wrap_sim_plain_ratio_to_raw"], ">=", T_SIM_RAW),
        "wear_cards_until_100k_cycles": (r["wear_cards_until_100k_cycles"], ">=", T_WEAR_CARDS),
        "firmware_static_ram_bytes": (r["firmware_static_ram_bytes"], "<", T_RAM),
        "firmware_code_bytes": (r["firmware_code_bytes"], "<", T_CODE),
    }
    targets["line_efficiency"] = (r["line_efficiency"], ">=", T_LINE_EFF)
    targets["contact_9600_bps_ratio_to_unpacked"] = (r["contact_9600_bps_ratio_to_unpacked"], ">=",
                                                     T_CONTACT_PACKED)
    if "heads_4_ratio_to_one_head" in r:
        targets["heads_4_ratio_to_one_head"] = (r["heads_4_ratio_to_one_head"], ">=", T_HEADS_4)
    met = {}
    for name, (v, op, lim) in targets.items():
        ok = v >= lim if op == ">=" else v <= lim if op == "<=" else v < lim
        met[name] = {"value": v, "target": f"{op} {lim}", "met": bool(ok)}
    r["targets"] = met
    r["targets_met"] = sum(1 for m in met.values() if m["met"])
    r["targets_total"] = len(met)

    with open(out, "w") as f:
        json.dump(r, f, indent=1, sort_keys=True)
        f.write("\n")

    def ok(name):
        return "met" if met[name]["met"] else "NOT MET"

    rows = [
        ("machine", f"{r['machine_cpu']}, {r['machine_nproc']} CPUs, {r['machine_kernel']}", ""),
        ("runs", f"{pc['pcsc_runs']} interleaved PC/SC runs, {sim['sim_runs']} in-process, "
                 f"{pc['card_runs']} packed cards and {pc['card_unpacked_runs']} one per envelope "
                 f"(+1 warm-up), medians", ""),
        ("1 link: no-op APDU p50 / p99",
         f"{pc['link_noop_p50_us']:.0f} / {pc['link_noop_p99_us']:.0f} us, "
         f"{pc['link_noop_apdus_per_s']:.0f} APDU/s (bare SCardTransmit, unknown INS -> "
         f"{pc['link_noop_sw']})", ""),
        ("1 libkeycard no-op p50 / p99",
         f"{pc['libkeycard_noop_p50_us']:.0f} / {pc['libkeycard_noop_p99_us']:.0f} us, "
         f"{pc['libkeycard_noop_calls_per_s']:.0f} calls/s (keycard_status_read: one APDU inside "
         f"a PC/SC transaction; begin+end alone {pc['pcsc_transaction_begin_end_us']:.0f} us)", ""),
        ("2 WRAP over PC/SC, 1 step/exchange, held",
         f"{pc['wrap_pcsc_envelopes_per_s']:.0f} env/s, p50 {pc['wrap_pcsc_p50_us']:.0f} us = "
         f"{pc['wrap_pcsc_ratio_to_link']:.2f} x link; "
         f"{pc['wrap_pcsc_ratio_to_libkeycard_noop']:.2f} x libkeycard no-op",
         f">= {T_WRAP_LINK}: {ok('wrap_pcsc_ratio_to_link')}"),
        ("  what limits it",
         f"key card work {r['keycard_work_us_per_envelope']:.1f} us/env = "
         f"{r['keycard_work_share_of_wrap_round_trip'] * 100:.1f} % of the round trip; "
         f"bare link with 255 data bytes {pc['link_noop_260b_apdus_per_s']:.0f} APDU/s "
         f"(WRAP {pc['wrap_pcsc_ratio_to_link_260b']:.2f} x that)", ""),
        ("3 WRAP batched over PC/SC",
         f"{pc['wrap_batched_pcsc_envelopes_per_s']:.0f} env/s = "
         f"{pc['wrap_batched_pcsc_ratio_to_link']:.2f} x link ({pc['wrap_batched_steps_per_call']} "
         f"steps in {pc['wrap_batched_pcsc_apdus_per_call']:.1f} APDUs)", ""),
        ("4 WRAP in-process (sim)",
         f"plain APDUs {sim['wrap_sim_plain_envelopes_per_s']:.0f} env/s = "
         f"{sim['wrap_sim_plain_ratio_to_raw']:.2f} x raw mbedTLS "
         f"{sim['raw_crypto_envelopes_per_s']:.0f}/s", f">= {T_SIM_RAW}: {ok('wrap_sim_ratio_to_raw')}"),
        ("  with the secure channel",
         f"{sim['wrap_sim_envelopes_per_s']:.0f} env/s = {sim['wrap_sim_ratio_to_raw']:.2f} x raw; "
         f"batched {sim['wrap_batched_sim_ratio_to_raw']:.2f} x", ""),
        ("5 card: key card line",
         f"{pc['card_keycard_apdus']} APDUs, {kc_bytes} bytes", f"<= {T_KC_ROUND_TRIPS} round trips: "
         f"{ok('keycard_round_trips_per_card')}"),
        ("5 card: target line", f"{pc['card_target_apdus']} APDUs, {t_bytes} bytes"
         f"{' (packed)' if pc['card_packed'] else ''}", ""),
        ("5 line efficiency",
         f"{r['line_efficiency']:.2f} = {sim['card_inner_bytes']} bytes of "
         f"{sim['card_inner_commands']} inner commands as plain APDUs / {t_bytes}; one per "
         f"envelope {r['line_efficiency_unpacked']:.2f} ({u_t} bytes in "
         f"{pc['card_unpacked_target_apdus']} APDUs; key card line {u_kc} bytes)",
         f">= {T_LINE_EFF}: {ok('line_efficiency')}"),
        ("5 card: time over vpcd",
         f"{pc['card_ms']:.1f} ms/card, {pc['cards_per_hour']:.0f} cards/h ({pc['card_steps']} steps, "
         f"bucket {pc['card_bucket_bytes']})", ""),
    ]
    for bps in RATES:
        tag = f"{bps // 1000}k" if bps % 1000 == 0 and bps >= 100000 else str(bps)
        rows.append((f"5 card on contact at {bps} bit/s",
                     f"{r[f'contact_{tag}_bps_card_ms']:.0f} ms/card "
                     f"(key card {r[f'contact_{tag}_bps_keycard_share'] * 100:.0f} %), "
                     f"{r[f'contact_{tag}_bps_cards_per_hour']:.0f} cards/h = "
                     f"{r[f'contact_{tag}_bps_ratio_to_unpacked']:.2f} x one per envelope "
                     f"({r[f'contact_{tag}_bps_unpacked_cards_per_hour']:.0f} cards/h)",
                     f">= {T_CONTACT_PACKED} x: {ok('contact_9600_bps_ratio_to_unpacked')}"
                     if bps == 9600 else ""))
    if "heads_1_cards_per_hour" in r:
        lim = r.get("keycard_limit_cards_per_hour")
        for n in (1, 2, 4, 8):
            lr = r.get(f"heads_{n}_ratio_to_keycard_limit")
            rows.append((f"8 line: {n} head{'s' if n > 1 else ''}, one key card",
                         f"{r[f'heads_{n}_cards_per_hour']:.0f} cards/h = "
                         f"{r[f'heads_{n}_ratio_to_n_one_head']:.2f} x {n} x one head"
                         + (f", {lr:.4f} x the key card's limit" if lr is not None else ""),
                         f">= 3 x one head: {ok('heads_4_ratio_to_one_head')}" if n == 4 else ""))
        if lim:
            rows.append(("  the key card's limit",
                         f"{lim:.0f} cards/h (busy {r['heads_8_keycard_busy_ms_per_card']} ms per "
                         f"card with 8 heads; card changes of the stackers are the rest)", ""))
    for bps in RATES:
        tag = f"{bps // 1000}k" if bps % 1000 == 0 and bps >= 100000 else str(bps)
        one = r[f"contact_{tag}_bps_1_heads_cards_per_hour"]
        rows.append((f"8 contact model at {bps} bit/s, heads",
                     ", ".join(f"{n}: {r[f'contact_{tag}_bps_{n}_heads_cards_per_hour']:.0f}"
                               for n in (1, 2, 4, 8))
                     + f" cards/h (4 heads = "
                     f"{r[f'contact_{tag}_bps_4_heads_cards_per_hour'] / one:.2f} x one: the key "
                     f"card's line carries every envelope)", ""))
    for db, name in (("sqlite", "SQLite file"), ("pgsql", "PostgreSQL")):
        if f"journal_{db}_ms_per_card" in r:
            rows.append((f"8 journal: {name}",
                         f"{r[f'journal_{db}_ms_per_card']:.2f} ms/card = "
                         f"{r[f'journal_{db}_ratio_to_card_vpcd']:.3f} x the card over vpcd, "
                         f"{r[f'journal_{db}_ratio_to_card_contact_9600']:.4f} x at 9600 bit/s", ""))
    rows += [
        ("  contact model", r["contact_model"], ""),
        ("6 wear per card",
         f"{sim['wear_bytes_programmed_per_card']:.0f} bytes programmed, "
         f"{sim['wear_erases_per_card_all_pages']:.4f} erases (all pages), most-worn page "
         f"erased every {sim['wear_cards_per_erase_cycle_most_worn_page']:.0f} cards", ""),
        ("6 wear projection",
         f"{sim['wear_cards_until_100k_cycles']:.3g} cards to 100k cycles "
         f"({sim['wear_cards_issued']} cards issued in-process)",
         f">= 1e7: {ok('wear_cards_until_100k_cycles')}"),
        ("7 firmware code (keycard/*.o)", f"{text} bytes ({text / 1024:.1f} KiB)",
         f"< 128 KiB: {ok('firmware_code_bytes')}"),
        ("7 firmware static RAM",
         f"{data + bss + ctx} bytes = .data {data} + .bss {bss} + card context {ctx}",
         f"< 16 KiB: {ok('firmware_static_ram_bytes')}"),
        ("7 kc-vcard peak RSS", f"key card {rss['keycard']} KiB, target {rss['target']} KiB", ""),
        ("targets", f"{r['targets_met']} of {r['targets_total']} met; bench took {seconds} s", ""),
    ]
    w1 = max(len(a) for a, _, _ in rows)
    print()
    for a, b, c in rows:
        print(f"{a:<{w1}}  {b}" + (f"  [{c}]" if c else ""))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
