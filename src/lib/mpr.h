/*  mpr.h - a bounds-checked msgpack reader that decodes in place.

    Reads one value at a time, front to back, from a byte range the caller
    owns: no object tree, no allocation. Strings and bins point into the
    input. Every str / bin / ext length is checked against the bytes that
    remain before it is used, and every array / map count before the caller
    sees it (an element takes at least one byte, a map pair two), so a
    caller that sizes anything by a count is bounded by its input.

    A read that fails leaves the reader where it was (the caller can still
    name the field that was wrong) and says why: truncated, another type,
    a declared length or count beyond the input, nesting too deep, the byte
    0xc1 (never used by msgpack), an integer out of range.

    mpr_skip passes over one value the caller does not use (an unknown key's
    value), iteratively, with a limit on how deep its containers nest.

    Lifecycle: an mpr_t lives on the caller's stack; mpr_init points it at
    the bytes, which must outlive every pointer read from them.
*/
#ifndef MPR_H_INCLUDED
#define MPR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Deepest container nesting mpr_skip is ever asked to allow.
#define MPR_DEPTH_MAX 8

typedef enum {
    MPR_OK = 0,
    MPR_TRUNCATED = -1, //  the value runs past the end of the input
    MPR_TYPE = -2,      //  another kind of value (a negative int for mpr_uint)
    MPR_LENGTH = -3,    //  a str / bin / ext length beyond the bytes that remain
    MPR_COUNT = -4,     //  an array / map count beyond the bytes that remain
    MPR_DEPTH = -5,     //  containers nested deeper than allowed (mpr_skip)
    MPR_INVALID = -6,   //  the byte 0xc1
    MPR_RANGE = -7      //  an unsigned integer above INT64_MAX (mpr_int)
} mpr_rc_t;

typedef struct {
    const uint8_t *p;   //  next byte to read
    const uint8_t *end; //  one past the last byte
    uint64_t declared;  //  the length or count that the last MPR_LENGTH / MPR_COUNT refused
} mpr_t;

//  Read from DATA, SIZE bytes.
void mpr_init (mpr_t *self, const void *data, size_t size);

//  Bytes not read yet.
size_t mpr_left (const mpr_t *self);

//  An unsigned integer of any width; a non-negative value in a signed
//  encoding counts (msgpack packers may choose either); a negative one is
//  MPR_TYPE.
int mpr_uint (mpr_t *self, uint64_t *value);

//  A signed integer of any width; an unsigned one above INT64_MAX is
//  MPR_RANGE.
int mpr_int (mpr_t *self, int64_t *value);

int mpr_bool (mpr_t *self, bool *value);
int mpr_nil (mpr_t *self);

//  str and bin: *DATA points into the input (not NUL-terminated).
int mpr_str (mpr_t *self, const uint8_t **data, size_t *size);
int mpr_bin (mpr_t *self, const uint8_t **data, size_t *size);

//  Container headers: *COUNT elements (pairs for a map) follow, each still
//  to be read; COUNT is at most the bytes that remain (half for a map).
int mpr_array (mpr_t *self, uint32_t *count);
int mpr_map (mpr_t *self, uint32_t *count);

//  Pass over one value of any kind. Its containers may nest LEVELS deep at
//  most (0: it must be a scalar; at most MPR_DEPTH_MAX). Iterative: no
//  recursion whatever the input.
int mpr_skip (mpr_t *self, unsigned levels);

//  A short text for an mpr_rc_t ("truncated", ...).
const char *mpr_strerror (int rc);

#endif
