/*  quota.h - how many appends each client has parked, against a limit.

    Keys are byte strings (the master uses the client's routing id). A key
    with nothing counted holds no memory, so the table is bounded by the
    number of parked appends, which the waiters pool bounds in turn.
*/
#ifndef QUOTA_H_INCLUDED
#define QUOTA_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _quota_t quota_t;

//  LIMIT >= 1 per key.
quota_t *quota_new (size_t limit);
void quota_destroy (quota_t **self_p);

//  Count one more for KEY. Returns 0, or -1 if KEY is at its limit (or
//  memory ran out): nothing is counted then.
int quota_take (quota_t *self, const uint8_t *key, size_t key_size);

//  Count one less for KEY (no-op if it has none).
void quota_give (quota_t *self, const uint8_t *key, size_t key_size);

//  What KEY holds now.
size_t quota_held (quota_t *self, const uint8_t *key, size_t key_size);

//  Keys holding at least one.
size_t quota_keys (quota_t *self);

#endif
