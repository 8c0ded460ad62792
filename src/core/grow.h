/*  grow.h - the one growth helper for arrays that double.

    grow_array makes room for NEED items of ITEM bytes in *TABLE, whose
    capacity is *CAP items: nothing happens when it already has the room;
    otherwise the capacity doubles (starting from MIN) until it does and
    the table is realloc'd. On failure (ENOMEM, or a size that would
    overflow) it returns -1 and changes nothing, so callers can grow every
    table first and only then change their state.
*/
#ifndef GROW_H_INCLUDED
#define GROW_H_INCLUDED

#include <stddef.h>

int grow_array (void **table, size_t *cap, size_t need, size_t item, size_t min);

#endif
