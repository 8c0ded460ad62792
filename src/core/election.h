/*  election.h - who is master, by Raft's election rules on rlog's epochs.

    Membership is static: every node is given the same list of node ids
    (this node among them). The term is the epoch. A node is a FOLLOWER
    (it knows the master of its epoch, or waits for one), a CANDIDATE or
    the LEADER (the master).

      follower   hears the master (any valid frame of the current epoch
                 from it: heartbeats, batches, welcome) and resets its
                 election timer. Silent for its election timeout (drawn
                 at random from timeout_min..timeout_max at every reset, so
                 split votes resolve), it becomes a candidate.
      candidate  takes epoch + 1 and votes for itself; that (epoch,
                 voted_for) is handed to the sink's persist, which must make
                 it durable before anything is sent; then asks every other
                 member for its vote. A majority of ALL members (itself
                 included) elects it. Hearing a master of an epoch >= its
                 own makes it a follower; its timeout passing without a
                 majority starts a new election at the next epoch.
      leader     the caller runs the master role in this epoch (appending an
                 epoch marker first). It steps down when it sees a higher
                 epoch anywhere (election_saw_epoch).
      votes      a node grants at most one vote per epoch (persisted before
                 it answers), only to a candidate whose last (epoch, seq) is
                 at least its own (compared lexicographically: Raft's
                 election restriction, so the winner holds every entry a
                 majority acknowledged), only to a member, and not while it
                 hears a live master (it heard one within timeout_min:
                 Raft's guard against disruptive servers, so a node that was
                 partitioned away cannot depose a healthy master). A request
                 with a higher epoch moves the node to that epoch first
                 (forgetting its vote of the old one), whether or not it
                 grants.

    Pure: no sockets, no clock, no disk. Time comes in as NOW (monotonic
    ms); outputs go through the sink, synchronously, in order.
*/
#ifndef ELECTION_H_INCLUDED
#define ELECTION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELECTION_MEMBERS_MAX 32
#define ELECTION_ID_MAX      63

typedef enum { ELECTION_FOLLOWER = 0, ELECTION_CANDIDATE = 1, ELECTION_LEADER = 2 } election_role_t;

typedef enum { ELECTION_INFO = 0, ELECTION_WARN = 1 } election_level_t;

typedef struct {
    void *arg;
    //  Make (EPOCH, VOTED_FOR) durable ("" = no vote in EPOCH). Returns 0,
    //  or -1: the election then does not send what depended on it.
    int (*persist) (void *arg, uint64_t epoch, const char *voted_for);
    //  Ask every other member for its vote in EPOCH.
    void (*request_votes) (void *arg, uint64_t epoch, uint64_t last_epoch, uint64_t last_seq);
    //  The role changed: LEADER of EPOCH, or FOLLOWER of EPOCH whose master
    //  is LEADER_ID ("" while unknown), or CANDIDATE.
    void (*role) (void *arg, election_role_t role, uint64_t epoch, const char *leader_id);
    void (*log) (void *arg, election_level_t level, const char *text);
} election_sink_t;

typedef struct {
    char members[ELECTION_MEMBERS_MAX][ELECTION_ID_MAX + 1];
    size_t count;
    const char *self; //  this node's id, one of the members
    int64_t timeout_min_ms;
    int64_t timeout_max_ms;
    uint64_t seed; //  for the random timeouts
} election_config_t;

typedef struct _election_t election_t;

//  Start as a follower of EPOCH with no known master, having voted for
//  VOTED_FOR ("" for none) in EPOCH (as persisted), timer started at NOW.
//  NULL on a bad config (self not a member, no members, min > max).
election_t *election_new (const election_config_t *config, const election_sink_t *sink,
                          uint64_t epoch, const char *voted_for, int64_t now);
void election_destroy (election_t **self_p);

//  A frame of EPOCH from the master LEADER_ID. A higher epoch is adopted
//  (persisted, vote cleared); an equal one resets the timer and makes a
//  candidate a follower; a lower one is ignored (the caller refuses it).
void election_heard_leader (election_t *self, uint64_t epoch, const char *leader_id, int64_t now);

//  Any frame carrying EPOCH (ACK, FETCH, HELLO, a refusal...): a higher
//  epoch makes this node a follower of it, with no known master.
void election_saw_epoch (election_t *self, uint64_t epoch, int64_t now);

//  A vote request from CANDIDATE for EPOCH with its last entry
//  (LAST_EPOCH, LAST_SEQ); MY_LAST_* is this node's. Returns true when the
//  vote is granted; *EPOCH_P gets the epoch to answer with (this node's,
//  after the request). Persists before returning when the state changed.
bool election_vote_request (election_t *self, uint64_t epoch, const char *candidate,
                            uint64_t last_epoch, uint64_t last_seq, uint64_t my_last_epoch,
                            uint64_t my_last_seq, int64_t now, uint64_t *epoch_p);

//  A vote from VOTER for EPOCH.
void election_vote (election_t *self, uint64_t epoch, const char *voter, bool granted, int64_t now);

//  Timers: a follower or candidate whose timeout passed starts an election
//  (MY_LAST_*: this node's last entry, sent in the requests).
void election_tick (election_t *self, int64_t now, uint64_t my_last_epoch, uint64_t my_last_seq);

election_role_t election_role (election_t *self);
uint64_t election_epoch (election_t *self);
const char *election_leader (election_t *self); //  "" when unknown
const char *election_voted_for (election_t *self);
int64_t election_deadline (election_t *self); //  when the timer fires
const char *election_role_name (election_role_t role);
//  Is ID a member?
bool election_is_member (election_t *self, const char *id);
//  Majority of all members.
size_t election_majority (election_t *self);

#endif
