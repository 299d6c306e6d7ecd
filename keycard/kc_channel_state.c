/*
 * kc_channel_state.c - the end of a secure channel session (kc_channel_state.h).
 */
#include "kc_channel_state.h"

#include "kc_crypto.h"

void kc_channel_close(kc_channel *ch)
{
    ch->open = 0;
    ch->ctr = 0;
    kc_wipe(ch->s_enc, sizeof ch->s_enc);
    kc_wipe(ch->s_renc, sizeof ch->s_renc);
}
