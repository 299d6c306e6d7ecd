/*
 * doc_figures.c - the byte counts the docs quote, computed from the wire
 * header (tests/lint/doc-figures.sh compares them with the text).
 */
#include <stdio.h>

#include "keycard_proto.h"

int main(void)
{
    static const unsigned buckets[] = {64, 128, 256, 512, 1024};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        printf("apdu_len %u %zu\n", buckets[i], kc_env_apdu_len(buckets[i]));
    printf("channel_resp_overhead %d\n", KC_CHANNEL_RESP_OVERHEAD);
    printf("max_resp %d\n", KC_APDU_MAX_RESP);
    return 0;
}
