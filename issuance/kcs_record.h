/*
 * kcs_record.h - the parts of kc-station that judge an instruction's data
 * without a card: the profile name, and an ISSUE's record fields turned
 * into the CSV text kc-issue's parser reads. Apart from kc-station.c so
 * that the station fuzzer (tests/fuzz/fuzz_station.c) runs the same code.
 */
#ifndef KCS_RECORD_H
#define KCS_RECORD_H

#include <stddef.h>

#include "kcs_proto.h"
#include "profile.h"

/*
 * Longest line of the record's CSV text (header or row), every field quoted
 * and every '"' doubled: a record whose quoted form is longer is refused.
 * Plain fields fill at most KCS_DATA_MAX bytes; only quotes can double them.
 */
#define KCS_RECORD_LINE_MAX (KCS_DATA_MAX + 64)

/* 1 when n is a valid profile name (letters, digits, '-', '_', '.', not first '.'). */
int kcs_profile_name_ok(const char *n);

/*
 * The record fields (KCS_T_FIELD items) of in as a CSV of one header and
 * one row, parsed into c (kci_csv_free it). Returns 0 (c empty when there
 * are no fields), or -1 with a one-line reason in err: a malformed field,
 * malformed processing data, or a record too long once quoted. Nothing is
 * written past a buffer whatever the data; every copy is wiped.
 */
int kcs_record_csv(const kcs_frame *in, kci_csv *c, char *err, size_t errcap);

#endif /* KCS_RECORD_H */
