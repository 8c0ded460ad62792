/*  grow.c - the one growth helper for arrays that double (grow.h).
 */
#include "grow.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int grow_array (void **table, size_t *cap, size_t need, size_t item, size_t min)
{
    assert (table && cap && item > 0 && min > 0);
    if (need <= *cap)
        return 0;
    size_t new_cap = *cap ? *cap : min;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2 / item) {
            errno = ENOMEM;
            return -1;
        }
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / item) {
        errno = ENOMEM;
        return -1;
    }
    void *grown = realloc (*table, new_cap * item);
    if (!grown) {
        errno = ENOMEM;
        return -1;
    }
    *table = grown;
    *cap = new_cap;
    return 0;
}
