/*  entries.c - the APPEND_BATCH entry section (entries.h): write and read.
    Owns nothing but code.
*/
#include "entries.h"

#include <assert.h>
#include <string.h>

size_t entries_varint_size (uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

size_t entries_varint_put (uint8_t *out, uint64_t value)
{
    size_t size = 0;
    while (value >= 0x80) {
        out[size++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[size++] = (uint8_t)value;
    return size;
}

//  Bytes read (1..10), or 0 if truncated, too long or not minimal.
size_t entries_varint_get (const uint8_t *p, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;
    for (size_t i = 0; i < ENTRIES_VARINT_MAX && p + i < end; i++) {
        uint8_t byte = p[i];
        if (i == ENTRIES_VARINT_MAX - 1 && byte > 1)
            return 0; //  the tenth byte holds bit 63 only
        result |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (i > 0 && byte == 0)
                return 0; //  a trailing zero group: not minimal
            *value = result;
            return i + 1;
        }
    }
    return 0;
}

size_t entries_size (uint64_t req_delta, size_t size)
{
    return entries_varint_size (req_delta) + entries_varint_size (size) + size;
}

size_t entries_put (uint8_t *out, uint64_t req_delta, const void *data, size_t size)
{
    assert (out);
    assert (data || size == 0);
    size_t used = entries_varint_put (out, req_delta);
    used += entries_varint_put (out + used, size);
    if (size)
        memcpy (out + used, data, size);
    return used + size;
}

size_t entries_get (const uint8_t *p, const uint8_t *end, uint64_t *req_delta, const uint8_t **data,
                    size_t *size)
{
    assert (p && end && p <= end);
    uint64_t value;
    size_t used = entries_varint_get (p, end, req_delta);
    if (used == 0)
        return 0;
    size_t more = entries_varint_get (p + used, end, &value);
    if (more == 0)
        return 0;
    used += more;
    if (value > (uint64_t)(end - (p + used)))
        return 0;
    *data = p + used;
    *size = (size_t)value;
    return used + (size_t)value;
}
