/*  test_mpr.c - unit tests for the bounds-checked msgpack reader (mpr.c).

    Every reader on every width msgpack-c's packer produces, the byte-exact
    boundaries (one byte short is MPR_TRUNCATED, a length or count one over
    the input is refused before use), type errors that leave the reader in
    place, and mpr_skip on every kind of value with its depth limit. Inputs
    are heap copies of exactly their size, so ASan sees any read past them.
*/
#include "mpr.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} packer_t;

static void s_init (packer_t *b)
{
    msgpack_sbuffer_init (&b->sbuf);
    msgpack_packer_init (&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

static uint8_t *s_dup (const void *data, size_t size)
{
    uint8_t *copy = (uint8_t *)malloc (size ? size : 1);
    cr_assert_not_null (copy);
    if (size)
        memcpy (copy, data, size);
    return copy;
}

static const uint64_t s_uints[] = {
    0,         1,         0x7f,    0x80,       0xff,
    0x100,     0xffff,    0x10000, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
    INT64_MAX, UINT64_MAX};

Test (mpr, uint_every_width)
{
    packer_t b;
    s_init (&b);
    for (size_t i = 0; i < sizeof s_uints / sizeof s_uints[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_uint64 (&b.pk, s_uints[i]);
        uint8_t *data = s_dup (b.sbuf.data, b.sbuf.size);
        mpr_t r;
        uint64_t value = 7;
        //  Every prefix is truncated and leaves the reader in place
        for (size_t len = 0; len < b.sbuf.size; len++) {
            mpr_init (&r, data, len);
            cr_assert_eq (mpr_uint (&r, &value), MPR_TRUNCATED, "%zu of %zu", len, b.sbuf.size);
            cr_assert_eq (mpr_left (&r), len);
        }
        mpr_init (&r, data, b.sbuf.size);
        cr_assert_eq (mpr_uint (&r, &value), MPR_OK);
        cr_assert_eq (value, s_uints[i]);
        cr_assert_eq (mpr_left (&r), 0);
        //  The same value as an int, when it fits
        mpr_init (&r, data, b.sbuf.size);
        int64_t signed_value;
        cr_assert_eq (mpr_int (&r, &signed_value), s_uints[i] > INT64_MAX ? MPR_RANGE : MPR_OK);
        if (s_uints[i] <= INT64_MAX)
            cr_assert_eq (signed_value, (int64_t)s_uints[i]);
        free (data);
    }
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (mpr, signed_encodings)
{
    //  Non-negative values in signed encodings are unsigned integers too
    const uint8_t pos[][9] = {
        {0xd0, 0x05}, {0xd1, 0x00, 0x05}, {0xd2, 0, 0, 0, 5}, {0xd3, 0, 0, 0, 0, 0, 0, 0, 5}};
    const size_t pos_size[] = {2, 3, 5, 9};
    for (int i = 0; i < 4; i++) {
        mpr_t r;
        uint64_t value;
        mpr_init (&r, pos[i], pos_size[i]);
        cr_assert_eq (mpr_uint (&r, &value), MPR_OK);
        cr_assert_eq (value, 5);
    }
    //  Negative ones are not, in any width; as ints they read back
    const int64_t negs[] = {-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, INT64_MIN};
    packer_t b;
    s_init (&b);
    for (size_t i = 0; i < sizeof negs / sizeof negs[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_int64 (&b.pk, negs[i]);
        mpr_t r;
        uint64_t u;
        int64_t value;
        mpr_init (&r, b.sbuf.data, b.sbuf.size);
        cr_assert_eq (mpr_uint (&r, &u), MPR_TYPE, "%lld", (long long)negs[i]);
        cr_assert_eq (mpr_left (&r), b.sbuf.size);
        cr_assert_eq (mpr_int (&r, &value), MPR_OK);
        cr_assert_eq (value, negs[i]);
        cr_assert_eq (mpr_left (&r), 0);
    }
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (mpr, scalars_and_types)
{
    const uint8_t bytes[] = {0xc0, 0xc2, 0xc3, 0xc1};
    mpr_t r;
    bool flag;
    uint64_t u;
    mpr_init (&r, bytes, sizeof bytes);
    cr_assert_eq (mpr_bool (&r, &flag), MPR_TYPE);
    cr_assert_eq (mpr_nil (&r), MPR_OK);
    cr_assert_eq (mpr_nil (&r), MPR_TYPE);
    cr_assert_eq (mpr_bool (&r, &flag), MPR_OK);
    cr_assert_eq (flag, false);
    cr_assert_eq (mpr_uint (&r, &u), MPR_TYPE);
    cr_assert_eq (mpr_bool (&r, &flag), MPR_OK);
    cr_assert_eq (flag, true);
    cr_assert_eq (mpr_uint (&r, &u), MPR_INVALID);
    cr_assert_eq (mpr_bool (&r, &flag), MPR_INVALID);
    cr_assert_eq (mpr_skip (&r, 8), MPR_INVALID);
    cr_assert_eq (mpr_left (&r), 1);
    mpr_init (&r, NULL, 0);
    cr_assert_eq (mpr_bool (&r, &flag), MPR_TRUNCATED);
    cr_assert_eq (mpr_nil (&r), MPR_TRUNCATED);
    cr_assert_eq (mpr_skip (&r, 8), MPR_TRUNCATED);
    for (int i = MPR_RANGE; i <= MPR_OK; i++)
        cr_assert_not_null (mpr_strerror (i));
    cr_assert_str_eq (mpr_strerror (42), "unknown error");
}

Test (mpr, blobs_every_width)
{
    size_t sizes[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    uint8_t *body = (uint8_t *)malloc (65536);
    for (size_t i = 0; i < 65536; i++)
        body[i] = (uint8_t)i;
    packer_t b;
    s_init (&b);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int kind = 0; kind < 2; kind++) {
            msgpack_sbuffer_clear (&b.sbuf);
            if (kind)
                msgpack_pack_bin_with_body (&b.pk, body, sizes[s]);
            else
                msgpack_pack_str_with_body (&b.pk, body, sizes[s]);
            uint8_t *data = s_dup (b.sbuf.data, b.sbuf.size);
            size_t head = b.sbuf.size - sizes[s];
            mpr_t r;
            const uint8_t *out;
            size_t size;
            //  The other kind is a type error
            mpr_init (&r, data, b.sbuf.size);
            cr_assert_eq (kind ? mpr_str (&r, &out, &size) : mpr_bin (&r, &out, &size), MPR_TYPE);
            //  A cut header is truncated, a cut body a length beyond the input
            for (size_t len = 0; len < b.sbuf.size; len += len < head + 2 ? 1 : 997) {
                mpr_init (&r, data, len);
                int rc = kind ? mpr_bin (&r, &out, &size) : mpr_str (&r, &out, &size);
                cr_assert_eq (rc, len < head ? MPR_TRUNCATED : MPR_LENGTH, "len %zu", len);
                if (rc == MPR_LENGTH)
                    cr_assert_eq (r.declared, sizes[s]);
                cr_assert_eq (mpr_left (&r), len);
            }
            mpr_init (&r, data, b.sbuf.size);
            cr_assert_eq (kind ? mpr_bin (&r, &out, &size) : mpr_str (&r, &out, &size), MPR_OK);
            cr_assert_eq (size, sizes[s]);
            cr_assert_eq (out, data + head);
            cr_assert_eq (memcmp (out, body, size), 0);
            cr_assert_eq (mpr_left (&r), 0);
            mpr_init (&r, data, b.sbuf.size);
            cr_assert_eq (mpr_skip (&r, 0), MPR_OK);
            cr_assert_eq (mpr_left (&r), 0);
            free (data);
        }
    }
    msgpack_sbuffer_destroy (&b.sbuf);
    free (body);
}

Test (mpr, containers_bounded_by_input)
{
    //  Declared counts beyond the bytes that remain: refused before use
    const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    const uint8_t map16[] = {0xde, 0x00, 0x02, 0x01, 0x01, 0x01}; //  2 pairs in 3 bytes
    const uint8_t fixmap[] = {0x81, 0x01};                        //  a key without value
    const uint8_t array_ok[] = {0x92, 0x01, 0x02};
    mpr_t r;
    uint32_t count;
    mpr_init (&r, array32, sizeof array32);
    cr_assert_eq (mpr_array (&r, &count), MPR_COUNT);
    cr_assert_eq (r.declared, UINT32_MAX);
    cr_assert_eq (mpr_left (&r), sizeof array32);
    cr_assert_eq (mpr_map (&r, &count), MPR_TYPE);
    mpr_init (&r, map16, sizeof map16);
    cr_assert_eq (mpr_map (&r, &count), MPR_COUNT);
    cr_assert_eq (r.declared, 2);
    mpr_init (&r, fixmap, sizeof fixmap);
    cr_assert_eq (mpr_map (&r, &count), MPR_COUNT);
    mpr_init (&r, map16, 2);
    cr_assert_eq (mpr_map (&r, &count), MPR_TRUNCATED);
    mpr_init (&r, array_ok, sizeof array_ok);
    cr_assert_eq (mpr_array (&r, &count), MPR_OK);
    cr_assert_eq (count, 2);
    cr_assert_eq (mpr_left (&r), 2);
    //  array 16 / 32 and map 32 headers
    const uint8_t a16[] = {0xdc, 0x00, 0x01, 0xc0};
    const uint8_t m32[] = {0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xc0};
    mpr_init (&r, a16, sizeof a16);
    cr_assert_eq (mpr_array (&r, &count), MPR_OK);
    cr_assert_eq (count, 1);
    mpr_init (&r, m32, sizeof m32);
    cr_assert_eq (mpr_map (&r, &count), MPR_OK);
    cr_assert_eq (count, 1);
}

Test (mpr, skip_every_kind)
{
    packer_t b;
    s_init (&b);
    msgpack_pack_array (&b.pk, 14);
    msgpack_pack_nil (&b.pk);
    msgpack_pack_true (&b.pk);
    msgpack_pack_int64 (&b.pk, -5);
    msgpack_pack_uint64 (&b.pk, UINT64_MAX);
    msgpack_pack_float (&b.pk, 1.5f);
    msgpack_pack_double (&b.pk, 2.5);
    msgpack_pack_str_with_body (&b.pk, "abc", 3);
    msgpack_pack_bin_with_body (&b.pk, "\0\1", 2);
    msgpack_pack_ext_with_body (&b.pk, "x", 1, 7);                 //  fixext 1
    msgpack_pack_ext_with_body (&b.pk, "0123456789abcdef", 16, 7); //  fixext 16
    msgpack_pack_ext_with_body (&b.pk, "abc", 3, 7);               //  ext 8
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_array (&b.pk, 0);
    msgpack_pack_array (&b.pk, 70000); //  array 32
    for (int i = 0; i < 70000; i++)
        msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_map (&b.pk, 0);
    uint8_t *data = s_dup (b.sbuf.data, b.sbuf.size);
    mpr_t r;
    mpr_init (&r, data, b.sbuf.size);
    cr_assert_eq (mpr_skip (&r, 3), MPR_OK); //  array, map, the [] in it
    cr_assert_eq (mpr_left (&r), 0);
    //  Every prefix fails and leaves the reader in place
    for (size_t len = 0; len < b.sbuf.size; len += len < 200 ? 1 : 4099) {
        mpr_init (&r, data, len);
        int rc = mpr_skip (&r, 3);
        cr_assert (rc == MPR_TRUNCATED || rc == MPR_LENGTH || rc == MPR_COUNT, "len %zu: %d", len,
                   rc);
        cr_assert_eq (mpr_left (&r), len);
    }
    //  One level short
    mpr_init (&r, data, b.sbuf.size);
    cr_assert_eq (mpr_skip (&r, 2), MPR_DEPTH);
    cr_assert_eq (mpr_left (&r), b.sbuf.size);
    free (data);
    msgpack_sbuffer_destroy (&b.sbuf);
}

Test (mpr, skip_depth_limit_and_deep_input)
{
    //  N nested one-element arrays around a 1: needs N levels
    size_t deep = 60000;
    uint8_t *buf = (uint8_t *)malloc (deep + 1);
    memset (buf, 0x91, deep);
    buf[deep] = 0x01;
    mpr_t r;
    for (unsigned n = 0; n <= MPR_DEPTH_MAX; n++) {
        for (unsigned levels = 0; levels <= MPR_DEPTH_MAX + 1; levels++) {
            uint8_t *data = s_dup (buf + deep - n, n + 1);
            mpr_init (&r, data, n + 1);
            int expect = n <= levels ? MPR_OK : MPR_DEPTH;
            cr_assert_eq (mpr_skip (&r, levels), expect, "n %u levels %u", n, levels);
            free (data);
        }
    }
    //  60,000 deep: refused at the limit, iteratively
    uint8_t *data = s_dup (buf, deep + 1);
    mpr_init (&r, data, deep + 1);
    cr_assert_eq (mpr_skip (&r, MPR_DEPTH_MAX), MPR_DEPTH);
    cr_assert_eq (mpr_skip (&r, 1000), MPR_DEPTH); //  capped at MPR_DEPTH_MAX
    //  Maps too
    for (size_t i = 0; i < deep / 2; i++) {
        data[2 * i] = 0x81;
        data[2 * i + 1] = 0xc0;
    }
    mpr_init (&r, data, deep + 1);
    cr_assert_eq (mpr_skip (&r, MPR_DEPTH_MAX), MPR_DEPTH);
    free (data);
    free (buf);
}
