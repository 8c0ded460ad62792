/*  dedup.h - the master's idempotency table: (client id, request id) -> seq.

    Client ids are issued by the master (OPEN): 16 bytes, an 8-byte nonce
    drawn when the master starts and an 8-byte counter, so no two clients of
    any master ever share one. A client numbers its requests 1, 2, 3, ...
    and the table keeps, per client, a window of its most recent request
    ids (by id value), as runs of consecutive ids that got consecutive seqs
    (a batch of a thousand appends is one run).

    Why a client must be known: a master that forgot a client (evicted it,
    or never issued its id) cannot tell a retry from a first send, so it
    answers DEDUP_UNKNOWN (the master says STALE: outcome unknown). A client
    that knows it never sent the request opens a new session and sends it
    again; one that did send it reports STALE. So an evicted client can never
    get a second entry. Within a known client, an id at or below the newest
    id that left its window is DEDUP_STALE; an id above it that is not
    remembered is DEDUP_NEW (ids may arrive out of order across retries).

    Memory is bounded: at most MAX_CLIENTS clients (least recently used
    evicted) and MAX_RUNS runs over all clients (past it, the least recently
    used clients are evicted until it fits), each client at most WINDOW ids.

    The table is rebuilt from the log when a master starts (dedup_record for
    every entry, in seq order), so retries after a restart or a failover get
    their original seq.
*/
#ifndef DEDUP_H_INCLUDED
#define DEDUP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define DEDUP_ID_SIZE 16

typedef enum {
    DEDUP_NEW = 0,    //  not sent before (within the window): append it
    DEDUP_FOUND = 1,  //  sent before: *SEQ_P is its seq
    DEDUP_STALE = 2,  //  below the client's window: cannot tell
    DEDUP_UNKNOWN = 3 //  client not (or no longer) known: cannot tell
} dedup_result_t;

typedef struct _dedup_t dedup_t;

//  Defaults used by the master.
#define DEDUP_MAX_CLIENTS ((size_t)65536)
#define DEDUP_WINDOW      ((size_t)65536)
#define DEDUP_MAX_RUNS    ((size_t)1 << 20)

//  MAX_CLIENTS, WINDOW and MAX_RUNS all >= 1. NONCE seeds issued ids.
dedup_t *dedup_new (size_t max_clients, size_t window, size_t max_runs, uint64_t nonce);
void dedup_destroy (dedup_t **self_p);

//  Issue a new client id into ID (DEDUP_ID_SIZE bytes) and make it known
//  (most recently used). Returns 0, or -1 on out of memory.
int dedup_open (dedup_t *self, uint8_t *id);

//  Look REQ_ID of client ID up (a known client becomes most recently used).
dedup_result_t dedup_lookup (dedup_t *self, const uint8_t *id, uint64_t req_id, uint64_t *seq_p);

//  Remember that COUNT requests FIRST_REQ.. of client ID got seqs
//  FIRST_SEQ.. (creating the client if it is not known: recovery from the
//  log, and a client whose first append lands). Ids older than the window
//  are ignored. Returns 0, or -1 on out of memory.
int dedup_record (dedup_t *self, const uint8_t *id, uint64_t first_req, uint64_t first_seq,
                  uint64_t count);

//  Forget requests FIRST_REQ.. (COUNT) of client ID: their entries were
//  rolled back and never existed. A later send of them is DEDUP_NEW.
void dedup_forget (dedup_t *self, const uint8_t *id, uint64_t first_req, uint64_t count);

size_t dedup_clients (dedup_t *self);
size_t dedup_runs (dedup_t *self);
size_t dedup_memory (dedup_t *self);

#endif
