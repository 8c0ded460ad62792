/*  mpr.c - bounds-checked msgpack reader (see mpr.h).

    Each reader looks at the type byte, checks that the header and then the
    body fit in what remains, and only then moves on. Widths of the
    multi-byte formats follow msgpack's own numbering: within each family
    the low bits of the type byte give 1, 2, 4 or 8 bytes.
*/
#include "mpr.h"

#include <assert.h>

void mpr_init (mpr_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    self->p = (const uint8_t *)data;
    //  No arithmetic on a NULL pointer, even + 0 (UBSan flags it)
    self->end = size ? self->p + size : self->p;
    self->declared = 0;
}

size_t mpr_left (const mpr_t *self)
{
    return (size_t)(self->end - self->p);
}

//  WIDTH (1, 2, 4 or 8) bytes at P, big-endian.
static uint64_t s_be (const uint8_t *p, size_t width)
{
    switch (width) {
    case 1:
        return p[0];
    case 2:
        return (uint64_t)p[0] << 8 | p[1];
    case 4:
        return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    default:
        return s_be (p, 4) << 32 | s_be (p + 4, 4);
    }
}

//  A byte that starts no value of the kind asked for.
static int s_wrong (uint8_t byte)
{
    return byte == 0xc1 ? MPR_INVALID : MPR_TYPE;
}

//  --------------------------------------------------------------------------
//  Integers: 0xcc..0xcf unsigned, 0xd0..0xd3 signed, of 1, 2, 4, 8 bytes.

//  Bytes after the type byte of the integer at the reader (0: a fixint),
//  checked to be there; or a negative mpr_rc_t.
static int s_int_width (const mpr_t *self)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    uint8_t byte = self->p[0];
    if (byte <= 0x7f || byte >= 0xe0)
        return 0;
    if (byte < 0xcc || byte > 0xd3)
        return s_wrong (byte);
    int width = 1 << ((byte - 0xcc) & 3);
    return mpr_left (self) - 1 < (size_t)width ? MPR_TRUNCATED : width;
}

//  The hottest reader (five calls per APPEND): straight-line, without the
//  helper (which costs it a fifth more).
int mpr_uint (mpr_t *self, uint64_t *value)
{
    const uint8_t *p = self->p;
    size_t left = mpr_left (self);
    if (left == 0)
        return MPR_TRUNCATED;
    if (p[0] <= 0x7f) {
        *value = p[0];
        self->p = p + 1;
        return MPR_OK;
    }
    if (p[0] < 0xcc || p[0] > 0xd3)
        return s_wrong (p[0]);
    size_t width = (size_t)1 << ((p[0] - 0xcc) & 3);
    if (left - 1 < width)
        return MPR_TRUNCATED;
    if (p[0] >= 0xd0 && (p[1] & 0x80))
        return MPR_TYPE; //  negative
    *value = s_be (p + 1, width);
    self->p = p + 1 + width;
    return MPR_OK;
}

int mpr_int (mpr_t *self, int64_t *value)
{
    int width = s_int_width (self);
    if (width < 0)
        return width;
    uint8_t byte = self->p[0];
    uint64_t raw = width ? s_be (self->p + 1, (size_t)width) : byte;
    if (width == 0)
        *value = (int8_t)byte;
    else if (byte <= 0xcf && raw > INT64_MAX)
        return MPR_RANGE;
    else if (byte <= 0xcf || width == 8)
        *value = (int64_t)raw;
    else if (width == 1)
        *value = (int8_t)raw;
    else if (width == 2)
        *value = (int16_t)raw;
    else
        *value = (int32_t)raw;
    self->p += 1 + width;
    return MPR_OK;
}

int mpr_bool (mpr_t *self, bool *value)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    uint8_t byte = self->p[0];
    if (byte != 0xc2 && byte != 0xc3)
        return s_wrong (byte);
    *value = byte == 0xc3;
    self->p++;
    return MPR_OK;
}

int mpr_nil (mpr_t *self)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    if (self->p[0] != 0xc0)
        return s_wrong (self->p[0]);
    self->p++;
    return MPR_OK;
}

//  --------------------------------------------------------------------------
//  Blobs: a header of HEAD bytes (already known to fit) declaring LENGTH.

static int s_take (mpr_t *self, size_t head, uint64_t length, const uint8_t **data, size_t *size)
{
    if (length > mpr_left (self) - head) {
        self->declared = length;
        return MPR_LENGTH;
    }
    *data = self->p + head;
    *size = (size_t)length;
    self->p += head + (size_t)length;
    return MPR_OK;
}

//  A blob whose length field of WIDTH bytes follows the type byte.
static int s_blob (mpr_t *self, size_t width, const uint8_t **data, size_t *size)
{
    if (mpr_left (self) - 1 < width)
        return MPR_TRUNCATED;
    return s_take (self, 1 + width, s_be (self->p + 1, width), data, size);
}

int mpr_str (mpr_t *self, const uint8_t **data, size_t *size)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    uint8_t byte = self->p[0];
    if (byte >= 0xa0 && byte <= 0xbf)
        return s_take (self, 1, byte & 0x1f, data, size);
    if (byte >= 0xd9 && byte <= 0xdb)
        return s_blob (self, (size_t)1 << (byte - 0xd9), data, size);
    return s_wrong (byte);
}

int mpr_bin (mpr_t *self, const uint8_t **data, size_t *size)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    uint8_t byte = self->p[0];
    if (byte >= 0xc4 && byte <= 0xc6)
        return s_blob (self, (size_t)1 << (byte - 0xc4), data, size);
    return s_wrong (byte);
}

//  --------------------------------------------------------------------------
//  Containers: COUNT elements of at least PER_ITEM bytes each must fit.

static int s_container (mpr_t *self, size_t head, uint64_t count, uint64_t per_item, uint32_t *out)
{
    if (count * per_item > mpr_left (self) - head) {
        self->declared = count;
        return MPR_COUNT;
    }
    *out = (uint32_t)count;
    self->p += head;
    return MPR_OK;
}

//  FIX_LOW: the fix format's first byte; WIDE: its 16-bit format's byte.
static int s_header (mpr_t *self, uint8_t fix_low, uint8_t wide, uint64_t per_item, uint32_t *count)
{
    if (self->p == self->end)
        return MPR_TRUNCATED;
    uint8_t byte = self->p[0];
    if (byte >= fix_low && byte <= fix_low + 0x0f)
        return s_container (self, 1, byte & 0x0f, per_item, count);
    if (byte != wide && byte != wide + 1)
        return s_wrong (byte);
    size_t width = byte == wide ? 2 : 4;
    if (mpr_left (self) - 1 < width)
        return MPR_TRUNCATED;
    return s_container (self, 1 + width, s_be (self->p + 1, width), per_item, count);
}

int mpr_array (mpr_t *self, uint32_t *count)
{
    return s_header (self, 0x90, 0xdc, 1, count);
}

int mpr_map (mpr_t *self, uint32_t *count)
{
    return s_header (self, 0x80, 0xde, 2, count);
}

//  --------------------------------------------------------------------------
//  Skip: one value of any kind. Returns MPR_OK and sets *CHILDREN to the
//  values that follow a container header (-1 for anything else).

static int s_skip_one (mpr_t *r, int64_t *children)
{
    *children = -1;
    if (r->p == r->end)
        return MPR_TRUNCATED;
    uint8_t byte = r->p[0];
    const uint8_t *data;
    size_t size;
    uint32_t count;
    size_t fixed = 0; //  bytes after the type byte, for fixed-size values
    int rc;
    if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0 || byte == 0xc2 || byte == 0xc3)
        fixed = 0;
    else if (byte <= 0x8f || byte == 0xde || byte == 0xdf) {
        if ((rc = mpr_map (r, &count)) == MPR_OK)
            *children = 2 * (int64_t)count;
        return rc;
    } else if (byte <= 0x9f || byte == 0xdc || byte == 0xdd) {
        if ((rc = mpr_array (r, &count)) == MPR_OK)
            *children = count;
        return rc;
    } else if (byte <= 0xbf || (byte >= 0xd9 && byte <= 0xdb))
        return mpr_str (r, &data, &size);
    else if (byte >= 0xc4 && byte <= 0xc6)
        return mpr_bin (r, &data, &size);
    else if (byte >= 0xc7 && byte <= 0xc9) {
        //  ext 8/16/32: type byte, length, ext type, data
        size_t width = (size_t)1 << (byte - 0xc7);
        if (mpr_left (r) < 2 + width)
            return MPR_TRUNCATED;
        return s_take (r, 2 + width, s_be (r->p + 1, width), &data, &size);
    } else if (byte == 0xca)
        fixed = 4;
    else if (byte == 0xcb)
        fixed = 8;
    else if (byte >= 0xcc && byte <= 0xd3)
        fixed = (size_t)1 << ((byte - 0xcc) & 3);
    else if (byte >= 0xd4 && byte <= 0xd8)
        fixed = 1 + ((size_t)1 << (byte - 0xd4)); //  fixext: ext type + data
    else
        return MPR_INVALID; //  0xc1
    if (mpr_left (r) - 1 < fixed)
        return MPR_TRUNCATED;
    r->p += 1 + fixed;
    return MPR_OK;
}

int mpr_skip (mpr_t *self, unsigned levels)
{
    if (levels > MPR_DEPTH_MAX)
        levels = MPR_DEPTH_MAX;
    //  LEFT[d]: values still to pass at depth d (0: the value itself).
    //  Each takes at least one byte, so the loop ends within the input.
    uint64_t left[MPR_DEPTH_MAX + 1];
    unsigned depth = 0;
    left[0] = 1;
    mpr_t r = *self;
    while (true) {
        while (depth > 0 && left[depth] == 0)
            depth--;
        if (left[depth] == 0)
            break;
        left[depth]--;
        int64_t children;
        int rc = s_skip_one (&r, &children);
        if (rc != MPR_OK) {
            self->declared = r.declared;
            return rc;
        }
        if (children >= 0) {
            if (depth >= levels)
                return MPR_DEPTH;
            left[++depth] = (uint64_t)children;
        }
    }
    self->p = r.p;
    return MPR_OK;
}

const char *mpr_strerror (int rc)
{
    switch (rc) {
    case MPR_OK:
        return "ok";
    case MPR_TRUNCATED:
        return "truncated";
    case MPR_TYPE:
        return "wrong type";
    case MPR_LENGTH:
        return "declared length exceeds the input";
    case MPR_COUNT:
        return "declared element count exceeds the input";
    case MPR_DEPTH:
        return "nested too deep";
    case MPR_INVALID:
        return "invalid byte 0xc1";
    case MPR_RANGE:
        return "integer out of range";
    default:
        return "unknown error";
    }
}
