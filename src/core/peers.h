/*  peers.h - the master's view of its secondaries: who may join, what each
    holds, how healthy each is, and whether there is a quorum.

    Lifecycle of a secondary, as the master sees it:

      configured  its node id is in the membership (--secondaries, or s1..sN
                  for --replicas N; with CURVE, each id bound to its public
                  key). Nothing else can join: unknown ids are refused.
      HELLO       from a route (the peer ROUTER's own routing id: a
                  connecting side cannot choose it, so cannot evict anyone).
                  Refused when: the id is not a member; CURVE is on and the
                  frame's key is not the id's key; the id is live on another
                  route (heard within 2 heartbeats: two nodes with one id);
                  its history is another one (RLOG_OTHER_HISTORY: "holds
                  another history"); it holds more of this history than this
                  master (the shorter-log rule: the master goes read-only
                  with the reason, unless accept_shorter, until that id
                  agrees again, by a HELLO or by ACKs from its welcomed
                  route). Else WELCOME: where their histories agree
                  (truncate_to, with the epoch and CRC of the master's record
                  ending there, which the secondary checks against its own).
                  An empty secondary adopts the master's history.
      ACK/FETCH   only from the route its id was welcomed on (and its key).
                  An ACK is the cumulative seq it holds; it counts toward w
                  from its first ACK after WELCOME. An ACK beyond the head is
                  a violation: logged, ignored. FETCH gives a range to send,
                  capped by fetch_max and the head.
      health      Healthy / Suspected / Unhealthy from when it was last heard
                  (health.h); the master plus its Healthy secondaries must
                  reach the quorum, else the master is read-only.

    Pure: no sockets, no clock. Log lines go out through the event callback
    (level, text), decisions come back to the caller, who sends the frames.
*/
#ifndef PEERS_H_INCLUDED
#define PEERS_H_INCLUDED

#include "health.h"
#include "store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEERS_MAX          32
#define PEERS_ID_MAX       63
#define PEERS_KEY_SIZE     40 //  Z85 public key
#define PEERS_ROUTE_MAX    256
#define PEERS_HISTORY_SIZE 16

typedef enum { PEERS_INFO = 0, PEERS_WARN = 1, PEERS_ERROR = 2 } peers_level_t;
typedef void (peers_event_fn) (void *arg, peers_level_t level, const char *text);

typedef struct {
    char id[PEERS_ID_MAX + 1];
    char key[PEERS_KEY_SIZE + 1]; //  "" without CURVE
} peers_member_t;

typedef struct {
    peers_member_t members[PEERS_MAX];
    size_t count;
    uint32_t quorum; //  healthy nodes, master included, needed for appends
    health_config_t health;
    int64_t heartbeat_ms;
    uint64_t fetch_max;
    bool accept_shorter;
    bool curve; //  keys must match
} peers_config_t;

//  The master's log as the rules need it.
typedef struct {
    const uint8_t *history; //  PEERS_HISTORY_SIZE bytes
    uint64_t epoch;         //  the master's current epoch
    store_t *store;         //  read only
} peers_log_t;

typedef struct {
    const char *node_id;
    const uint8_t *history; //  NULL or PEERS_HISTORY_SIZE bytes (none when empty)
    uint64_t last_epoch;
    uint64_t last_seq;
    uint32_t last_crc; //  CRC of its record ending at last_seq
    uint64_t epoch;    //  highest epoch it has seen
} peers_hello_t;

typedef enum { PEERS_ACCEPT = 0, PEERS_REFUSE = 1, PEERS_IGNORE = 2 } peers_verdict_t;

//  What to answer. REFUSE: an ERROR frame with CODE and TEXT. ACCEPT of a
//  HELLO: a WELCOME with the fields below; of a FETCH: the range to send.
typedef struct {
    peers_verdict_t verdict;
    int code;
    char text[256];
    uint64_t truncate_to; //  WELCOME
    uint64_t at_epoch;
    uint32_t at_crc;
    uint64_t from; //  FETCH: entries from..to (to >= from)
    uint64_t to;
} peers_decision_t;

//  A route and the CURVE key its frame came with (NULL without CURVE).
typedef struct {
    const uint8_t *route;
    size_t route_size;
    const char *key;
} peers_origin_t;

typedef struct _peers_t peers_t;

peers_t *peers_new (const peers_config_t *config, peers_event_fn *fn, void *arg);
void peers_destroy (peers_t **self_p);

void peers_hello (peers_t *self, const peers_origin_t *from, const peers_hello_t *hello,
                  const peers_log_t *log, int64_t now, peers_decision_t *out);
void peers_ack (peers_t *self, const peers_origin_t *from, uint64_t acked, const peers_log_t *log,
                int64_t now, peers_decision_t *out);
void peers_fetch (peers_t *self, const peers_origin_t *from, uint64_t first, uint64_t count,
                  const peers_log_t *log, int64_t now, peers_decision_t *out);

//  Apply the passage of time: health transitions (logged), quorum mode.
void peers_tick (peers_t *self, int64_t now);

//  Read-only (no quorum, or the shorter-log rule): true with the reason in
//  REASON ("1 of 3 nodes healthy, quorum needs 2").
bool peers_read_only (peers_t *self, char *reason, size_t size);

//  The seqs the welcomed secondaries hold (see appends.h HELD); returns N.
size_t peers_held (peers_t *self, uint64_t *held, size_t max);

//  Nodes healthy now (the master included) and the quorum.
uint32_t peers_healthy (peers_t *self);
uint32_t peers_quorum (peers_t *self);

//  For status: member I (0..count-1) as of NOW.
typedef struct {
    const char *id;
    health_state_t state;
    bool joined; //  welcomed since the master started
    uint64_t acked;
    int64_t last_heard_ms; //  -1: never
    bool catching_up;      //  fetched within suspect_ms and behind the head
} peers_member_status_t;
size_t peers_count (peers_t *self);
void peers_member (peers_t *self, size_t i, uint64_t head, int64_t now, peers_member_status_t *out);

#endif
