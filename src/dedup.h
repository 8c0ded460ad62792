/*  dedup.h - the master's idempotency table: (client id, request id) -> seq.

    librlog numbers a client's requests 1, 2, 3, ... so each client keeps a
    window of its most recent requests, in request-id order, and a retry of
    one of them finds the seq it was given. Clients are evicted least
    recently used first, so memory is bounded by max_clients * window.
    Each record carries a caller-defined tag (the master stores the handle of
    the waiter parked for it, so a retry rebinds instead of parking twice).
*/
#ifndef DEDUP_H_INCLUDED
#define DEDUP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DEDUP_NEW = 0,   //  never seen: append it, then dedup_record()
    DEDUP_FOUND = 1, //  seen: *seq_p and *tag_p hold the original outcome
    DEDUP_STALE = 2  //  older than the client's window: cannot tell
} dedup_result_t;

typedef struct _dedup_t dedup_t;

//  MAX_CLIENTS >= 1 and WINDOW >= 1 request records per client.
dedup_t *dedup_new (size_t max_clients, size_t window);
void dedup_destroy (dedup_t **self_p);

dedup_result_t dedup_lookup (dedup_t *self, const uint8_t *client_id, size_t client_id_size,
                             uint64_t req_id, uint64_t *seq_p, uint64_t *tag_p);

//  Remember that REQ_ID of CLIENT_ID got SEQ. An id older than the client's
//  newest record is placed in id order (a refused request sent again);
//  returns -1 if it is already recorded or older than the whole window.
int dedup_record (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id,
                  uint64_t seq, uint64_t tag);

//  Undo the record of REQ_ID of CLIENT_ID (used when the append it recorded
//  could not be made durable). Returns 0, or -1 if there is none.
int dedup_forget (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id);

//  Change the tag of a recorded request. Returns 0, or -1 if not found.
int dedup_set_tag (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id,
                   uint64_t tag);

size_t dedup_clients (dedup_t *self);

#endif
