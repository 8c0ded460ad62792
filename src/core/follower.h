/*  follower.h - a secondary's replication state machine.

    Lifecycle, from HELLO to following:

      hello      on start, on a refusal that may clear, on a new master epoch
                 or history, and after a silence of unhealthy_ms: HELLO with
                 this node's history and last (epoch, seq, crc), retried with
                 backoff (100 ms doubling to 5 s, jitter) until answered.
      welcome    WELCOME(truncate_to, at_epoch, at_crc): the record here
                 ending at truncate_to must match (epoch, CRC), else this log
                 is not the master's history and the node refuses to follow
                 (status "refused", the reason logged, HELLO retried slowly:
                 1 s doubling to 5 s, jitter). Entries above truncate_to go
                 to a rollback file (reason "rollback"); an empty node
                 adopts the master's history. Then ACK, and following. A
                 second WELCOME in the epoch already joined (the answer to
                 a repeated HELLO) is ignored.
      following  records arrive on BATCH (live, may be lost) and FILL
                 (fetched). A record at next is stored; ahead of next it is
                 held back (bounded); below next it is a duplicate, dropped.
                 Held records drain in order as gaps close. A gap (a held
                 record, or a heartbeat head beyond next) is fetched with one
                 credit-bounded FETCH at a time, re-asked after a timeout with
                 backoff (200 ms doubling to 5 s, jitter). A FILL that
                 completes a fetch resets the backoff.
      ack        the caller reports what is durable (follower_durable); the
                 follower ACKs what is new, and every heartbeat interval
                 (the ACK is its heartbeat).
      refused    ERROR REFUSED / OTHER_HISTORY from the master: not following;
                 with discard_foreign, a foreign log (OTHER_HISTORY, or a
                 WELCOME that does not match) is moved to a rollback file
                 (truncate to 0, reason "foreign"), the history forgotten
                 (adopt NULL) and the node says HELLO again as an empty
                 node, which adopts the master's history at its WELCOME.

    Modes (follower_mode_name): "connecting" until a WELCOME, with a
    reason ("no answer from the master yet", or that the master's stream is
    heard but HELLO gets no answer); "catching-up" and "following" once
    welcomed; "refused" (reason: the master's refusal, or how the logs
    differ); "disconnected" (welcomed once, then silence: HELLO again).

    Pure: no sockets, no clock, no disk. Every record received is checked
    here (record_check) before anything else looks at it. The follower
    reads the store (head, last record) but changes it only through the
    sink, whose callbacks the caller provides and which run synchronously,
    in order. A store that fails returns -1;
    the follower then goes back to what the store holds and fetches again.
*/
#ifndef FOLLOWER_H_INCLUDED
#define FOLLOWER_H_INCLUDED

#include "backoff.h"
#include "record.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FOLLOWER_HISTORY_SIZE 16

typedef enum { FOLLOWER_INFO = 0, FOLLOWER_WARN = 1, FOLLOWER_ERROR = 2 } follower_level_t;

//  What the follower asks of its caller. Each returns 0, or -1 on failure.
typedef struct {
    void *arg;
    int (*send_hello) (void *arg, const uint8_t *history, uint64_t last_epoch, uint64_t last_seq,
                       uint32_t last_crc, uint64_t epoch);
    int (*send_ack) (void *arg, uint64_t epoch, uint64_t acked);
    int (*send_fetch) (void *arg, uint64_t epoch, uint64_t from, uint64_t count);
    //  Store one checked record (first_seq == head + 1).
    int (*store) (void *arg, const uint8_t *record, size_t size);
    //  Keep 1..LAST, the rest into a rollback file named after REASON.
    int (*truncate) (void *arg, uint64_t last, const char *reason);
    //  This node belongs to HISTORY and has seen master EPOCH (persist
    //  both); called at every WELCOME taken. HISTORY NULL (EPOCH 0): the
    //  log was discarded as foreign, the node belongs to no history.
    int (*adopt) (void *arg, const uint8_t *history, uint64_t epoch);
    void (*log) (void *arg, follower_level_t level, const char *text);
} follower_sink_t;

typedef struct {
    const char *id;
    int64_t heartbeat_ms;
    int64_t unhealthy_ms;
    uint64_t fetch_max;      //  credit per FETCH
    size_t holdback_records; //  held-back records at most
    size_t holdback_bytes;   //  ... and bytes
    bool discard_foreign;    //  --discard-foreign-log
    uint64_t seed;           //  for the backoff jitter
} follower_config_t;

typedef enum {
    FOLLOWER_CONNECTING = 0, //  no WELCOME yet
    FOLLOWER_CATCHING_UP,    //  welcomed, behind the master's head
    FOLLOWER_FOLLOWING,      //  welcomed, caught up
    FOLLOWER_REFUSED,        //  the master refused us, or its history is not ours
    FOLLOWER_DISCONNECTED    //  welcomed once, nothing heard for unhealthy_ms
} follower_mode_t;

typedef struct _follower_t follower_t;

//  STORE is read only. HISTORY: this node's (NULL when it has none yet).
follower_t *follower_new (const follower_config_t *config, store_t *store, const uint8_t *history,
                          const follower_sink_t *sink);
void follower_destroy (follower_t **self_p);

//  Say HELLO now (start).
void follower_start (follower_t *self, int64_t now);

//  Frames from the master, decoded (proto fields as arguments).
void follower_welcome (follower_t *self, uint64_t epoch, const uint8_t *history, uint64_t head,
                       uint64_t truncate_to, uint64_t at_epoch, uint32_t at_crc, const char *leader,
                       int64_t now);
void follower_heartbeat (follower_t *self, uint64_t epoch, uint64_t head, const uint8_t *history,
                         int64_t now);
//  BATCH or FILL of epoch EPOCH: RECORDS holds whole records, each checked
//  here once (record_check with MAX_PAYLOAD), in order. A bad record drops
//  the rest of the frame; a record of an epoch above EPOCH is dropped.
//  Both are logged (at most once a second).
void follower_records (follower_t *self, bool fill, uint64_t epoch, const uint8_t *records,
                       size_t size, size_t max_payload, int64_t now);
//  ERROR from the master (CODE rlog_err_t, TEXT its reason).
void follower_error (follower_t *self, int code, const char *text, int64_t now);

//  What the store has made durable (per the fsync policy): ACK what is new.
void follower_durable (follower_t *self, uint64_t durable, int64_t now);

//  Timers: HELLO retries, FETCH timeouts, the periodic ACK, silence.
void follower_tick (follower_t *self, int64_t now);

//  The store lost entries (a failed write): go back to its head.
void follower_reset (follower_t *self, int64_t now);

//  For status.
follower_mode_t follower_mode (follower_t *self);
const char *follower_mode_name (follower_mode_t mode);
const char *follower_reason (follower_t *self); //  why refused / connecting, "" if none
uint64_t follower_master_epoch (follower_t *self);
uint64_t follower_master_head (follower_t *self);
int64_t follower_last_heard (follower_t *self); //  -1 never
bool follower_reachable (follower_t *self);
const char *follower_leader (follower_t *self);  //  master's client endpoint, "" unknown
uint64_t follower_held_back (follower_t *self);  //  entries held back
uint64_t follower_duplicates (follower_t *self); //  entries dropped as duplicates
//  This node's history (NULL when it has none).
const uint8_t *follower_history (follower_t *self);
//  Earliest time follower_tick has something to do.
int64_t follower_next_due (follower_t *self);

#endif
