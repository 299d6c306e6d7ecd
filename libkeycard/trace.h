/*
 * trace.h - the lines keycard_set_trace's callback gets (trace.c). who: the
 * connection's name. Nothing is formatted while no callback is set.
 */
#ifndef KCL_TRACE_H
#define KCL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

int kcl_trace_on(void);
uint64_t kcl_trace_clock(void); /* microseconds, monotonic */
void kcl_trace_command(const char *who, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                       const uint8_t *data, size_t lc);
void kcl_trace_answer(const char *who, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      uint16_t sw, const uint8_t *data, size_t n, keycard_rc rc, uint64_t t0);
void kcl_trace_envelope(const char *who, const uint8_t *apdu, size_t len, const uint8_t *resp,
                        size_t rlen, keycard_rc rc, uint64_t t0);

#endif /* KCL_TRACE_H */
