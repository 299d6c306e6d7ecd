/*
 * kc_err.c - the one table from firmware error to status word (kc_err.h).
 */
#include "kc_err.h"

#include "keycard_proto.h"

static const kc_err_sw_entry common[] = {
    {KC_OK, KC_SW_OK},
    {KC_ERR_NOT_FOUND, KC_SW_REF_NOT_FOUND},
    {KC_ERR_NO_SPACE, KC_SW_NOT_ENOUGH_MEMORY},
    {KC_ERR_FLASH, KC_SW_MEMORY_FAILURE},
    {KC_ERR_STATE, KC_SW_CONDITIONS},
    {KC_ERR_BAD_DATA, KC_SW_WRONG_DATA},
    {KC_ERR_TOO_BIG, KC_SW_WRONG_DATA},
    {KC_ERR_CRED_BLOCKED, KC_SW_AUTH_BLOCKED},
    {KC_ERR_CRED_WRONG, KC_SW_TRIES_LEFT(0)},
    {KC_ERR_ISSUE_ROOM, KC_SW_WRONG_LENGTH},     /* the answer does not fit Le */
    {KC_ERR_ISSUE_STEPS, KC_SW_NOT_ENOUGH_MEMORY},
};

uint16_t kc_err_sw(int err, const kc_err_sw_entry *over, size_t n)
{
    for (size_t i = 0; over != NULL && i < n; i++)
        if (over[i].err == err)
            return over[i].sw;
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (common[i].err == err)
            return common[i].sw;
    return KC_SW_UNKNOWN;
}
