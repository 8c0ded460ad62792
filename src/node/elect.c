/*  elect.c - an elected node: it runs the election (election.h: Raft's
    rules on rlog's epochs) and turns its outcome into the node's role.

    Lifecycle of an elected node:
      start      a follower of the epoch in its meta, no master known, no
                 role: appends are answered NOT_MASTER ("an election is
                 under way") until a master is known.
      follow     a frame of the current epoch from a member (HEARTBEAT,
                 BATCH, FILL, WELCOME) names the master: the node runs the
                 secondary role on that member's link. A higher epoch is
                 adopted first; a lower one is refused (dropped).
      candidate  silent master: the election asks for votes on every link
                 (VOTE_REQUEST); votes come back on the same links. Every
                 vote given or taken is persisted (DIR/meta, fsync) before
                 it is sent.
      lead       elected: the master role starts in the new epoch and
                 appends an epoch marker first; ACKs count toward w only
                 from the marker on, so entries of older epochs are
                 acknowledged only through it (Raft 5.4.2).
      step down  any frame with a higher epoch (a HELLO, ACK or FETCH on the
                 peer socket, a vote request, a vote): the master role
                 ends, its waiting appends learn how far they got, and the
                 node follows whoever leads the new epoch. Its entries
                 that the new master lacks go to a rollback file when it
                 joins (follower.h).
*/
#include "node_self.h"
#include "log.h"
#include "master.h"
#include "rlog.h"
#include "secondary.h"

//  -------------------------------------------------------------------------
//  Roles

static int s_link_of_member (node_self_t *self, const char *id)
{
    node_t *node = &self->node;
    for (size_t i = 0; i < node->link_count; i++)
        if (streq (node->cfg.members[node->link_member[i]].id, id))
            return (int)i;
    return -1;
}

static void s_drop_roles (node_self_t *self)
{
    master_destroy (&self->master);
    secondary_destroy (&self->secondary);
    self->follow_link = -1;
}

static void s_lead (node_self_t *self, uint64_t epoch)
{
    char err[256];
    s_drop_roles (self);
    if (storage_ensure_history (&self->node.storage, err, sizeof err) == 0)
        self->master = master_new (&self->node, epoch, err, sizeof err);
    if (!self->master || master_mark_epoch (self->master) != 0) {
        log_error ("elected for epoch %llu but cannot lead: %s", (unsigned long long)epoch,
                   self->master ? strerror (errno) : err);
        return;
    }
    log_info ("elected master of epoch %llu", (unsigned long long)epoch);
    master_turn (self->master);
}

static void s_follow (node_self_t *self, const char *leader)
{
    int link = s_link_of_member (self, leader);
    master_destroy (&self->master);
    if (link < 0 || (self->secondary && self->follow_link == link))
        return;
    secondary_destroy (&self->secondary);
    node_t *node = &self->node;
    const config_member_t *m = &node->cfg.members[node->link_member[link]];
    char peer[CONFIG_ENDPOINT_MAX], err[256];
    snprintf (peer, sizeof peer, "tcp://%s:%d", m->host, m->port + 2);
    self->secondary = secondary_new (node, node->dealers[link], peer, err, sizeof err);
    if (!self->secondary) {
        log_error ("cannot follow '%s': %s", leader, err);
        return;
    }
    self->follow_link = link;
    secondary_start (self->secondary);
}

//  -------------------------------------------------------------------------
//  The election's sink

static int s_persist (void *arg, uint64_t epoch, const char *voted_for)
{
    node_self_t *self = (node_self_t *)arg;
    meta_t *meta = &self->node.storage.meta;
    if (epoch > meta->epoch)
        meta->epoch = epoch;
    meta->voted_epoch = epoch;
    snprintf (meta->voted_for, sizeof meta->voted_for, "%s", voted_for);
    char err[256];
    if (storage_save (&self->node.storage, err, sizeof err) == 0)
        return 0;
    log_error ("cannot persist epoch %llu and vote: %s", (unsigned long long)epoch, err);
    return -1;
}

static void s_request_votes (void *arg, uint64_t epoch, uint64_t last_epoch, uint64_t last_seq)
{
    node_self_t *self = (node_self_t *)arg;
    node_t *node = &self->node;
    proto_msg_t msg = {
        .type = PROTO_VOTE_REQUEST, .epoch = epoch, .last_epoch = last_epoch, .last_seq = last_seq};
    snprintf (msg.node_id, sizeof msg.node_id, "%s", node->cfg.id);
    log_info ("asking for votes in epoch %llu (last entry: epoch %llu, seq %llu)",
              (unsigned long long)epoch, (unsigned long long)last_epoch,
              (unsigned long long)last_seq);
    for (size_t i = 0; i < node->link_count; i++)
        node_send (node, node->dealers[i], NULL, 0, &msg);
}

static void s_role (void *arg, election_role_t role, uint64_t epoch, const char *leader)
{
    node_self_t *self = (node_self_t *)arg;
    if (role == ELECTION_LEADER)
        s_lead (self, epoch);
    else if (role == ELECTION_FOLLOWER && leader[0])
        s_follow (self, leader);
    else
        s_drop_roles (self);
}

static void s_log (void *arg, election_level_t level, const char *text)
{
    (void)arg;
    log_at ((int)level, text);
}

int elect_start (node_self_t *self, char *err, size_t err_size)
{
    const config_t *cfg = &self->node.cfg;
    election_config_t ec = {.count = cfg->member_count,
                            .self = cfg->id,
                            .timeout_min_ms = cfg->election_min_ms,
                            .timeout_max_ms = cfg->election_max_ms,
                            .seed = (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 32)};
    for (size_t i = 0; i < cfg->member_count; i++)
        snprintf (ec.members[i], sizeof ec.members[i], "%s", cfg->members[i].id);
    election_sink_t sink = {self, s_persist, s_request_votes, s_role, s_log};
    const meta_t *meta = &self->node.storage.meta;
    const char *voted = meta->voted_epoch == meta->epoch ? meta->voted_for : "";
    self->election = election_new (&ec, &sink, meta->epoch, voted, self->node.now);
    if (!self->election) {
        snprintf (err, err_size, "cannot start the election (is --id in --peers?)");
        return -1;
    }
    log_info ("node '%s' up: %zu members, epoch %llu, election timeout %lld..%lld ms, client %s",
              cfg->id, cfg->member_count, (unsigned long long)meta->epoch,
              (long long)cfg->election_min_ms, (long long)cfg->election_max_ms, cfg->advertise);
    return 0;
}

void elect_stop (node_self_t *self)
{
    election_destroy (&self->election);
}

//  -------------------------------------------------------------------------
//  Frames

bool elect_link_frame (node_self_t *self, size_t link, const proto_msg_t *msg)
{
    node_t *node = &self->node;
    election_t *e = self->election;
    const char *sender = node->cfg.members[node->link_member[link]].id;
    if (msg->type == PROTO_VOTE) {
        election_vote (e, msg->epoch, msg->node_id, msg->granted, node->now);
        return false;
    }
    bool from_master = msg->type == PROTO_HEARTBEAT || msg->type == PROTO_BATCH ||
                       msg->type == PROTO_FILL || msg->type == PROTO_WELCOME;
    if (!from_master)
        return (int)link == self->follow_link;
    if (msg->epoch < election_epoch (e)) {
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_info ("refused a %s of epoch %llu from '%s': this node is in epoch %llu",
                      proto_type_name (msg->type), (unsigned long long)msg->epoch, sender,
                      (unsigned long long)election_epoch (e));
        return false;
    }
    election_heard_leader (e, msg->epoch, sender, node->now);
    return election_epoch (e) == msg->epoch && streq (election_leader (e), sender) &&
           (int)link == self->follow_link;
}

//  With CURVE a vote request counts only under the key its node id is
//  bound to.
static bool s_authentic (node_self_t *self, zmq_msg_t *body, const char *id)
{
    node_t *node = &self->node;
    if (!node->auth)
        return true;
    const char *key = wire_peer_key (body);
    const char *bound = auth_node_key (node->auth, id);
    return key && bound && streq (key, bound);
}

static void s_vote_request (node_self_t *self, const wire_route_t *route, zmq_msg_t *body,
                            const proto_msg_t *msg)
{
    node_t *node = &self->node;
    proto_msg_t vote = {.type = PROTO_VOTE, .epoch = election_epoch (self->election)};
    snprintf (vote.node_id, sizeof vote.node_id, "%s", node->cfg.id);
    if (!s_authentic (self, body, msg->node_id)) {
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_warn ("refused a vote request as '%s': not from the key bound to that id",
                      msg->node_id);
    } else {
        uint64_t my_seq, my_epoch;
        uint32_t crc;
        storage_last (&node->storage, &my_seq, &my_epoch, &crc);
        vote.granted =
            election_vote_request (self->election, msg->epoch, msg->node_id, msg->last_epoch,
                                   msg->last_seq, my_epoch, my_seq, node->now, &vote.epoch);
    }
    node_send (node, node->peer, route->bytes, route->size, &vote);
}

bool elect_peer_frame (node_self_t *self, const wire_route_t *route, zmq_msg_t *body,
                       const proto_msg_t *msg)
{
    if (msg->type == PROTO_VOTE_REQUEST) {
        s_vote_request (self, route, body, msg);
        return true;
    }
    //  A member that has seen a newer epoch: this node is not its master
    //  any more. Only a member's HELLO counts (with CURVE, under its key):
    //  anyone else's epoch means nothing here.
    if (msg->type == PROTO_HELLO && msg->epoch > election_epoch (self->election) &&
        election_is_member (self->election, msg->node_id) && s_authentic (self, body, msg->node_id))
        election_saw_epoch (self->election, msg->epoch, self->node.now);
    return false;
}

void elect_tick (node_self_t *self)
{
    uint64_t seq, epoch;
    uint32_t crc;
    storage_last (&self->node.storage, &seq, &epoch, &crc);
    election_tick (self->election, self->node.now, epoch, seq);
}

//  -------------------------------------------------------------------------
//  Status

const char *elect_leader (node_self_t *self)
{
    if (self->secondary && secondary_leader (self->secondary)[0])
        return secondary_leader (self->secondary);
    const config_t *cfg = &self->node.cfg;
    int m = config_member (cfg, election_leader (self->election));
    if (m < 0)
        return "";
    snprintf (self->leader_client, sizeof self->leader_client, "tcp://%s:%d", cfg->members[m].host,
              cfg->members[m].port);
    return self->leader_client;
}

void elect_status (node_self_t *self, proto_status_t *st)
{
    election_t *e = self->election;
    st->epoch = election_epoch (e);
    if (!self->master && !self->secondary) {
        snprintf (st->role, sizeof st->role, "%s",
                  election_role (e) == ELECTION_CANDIDATE ? "candidate" : "secondary");
        snprintf (st->mode, sizeof st->mode, "%s",
                  election_role (e) == ELECTION_CANDIDATE ? "electing" : "connecting");
        snprintf (st->reason, sizeof st->reason, "no master known in epoch %llu",
                  (unsigned long long)st->epoch);
    }
    snprintf (st->leader, sizeof st->leader, "%s", election_leader (e));
    snprintf (st->leader_client, sizeof st->leader_client, "%s", elect_leader (self));
    st->nodes = (uint32_t)self->node.cfg.member_count;
    st->quorum = (uint32_t)election_majority (e);
}
