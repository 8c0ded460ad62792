/*  config.c - defaults and consistency checks for config_t.
 */
#include "config.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults (config_t *self, config_role_t role)
{
    bool master = role != CONFIG_SECONDARY;
    memset (self, 0, sizeof *self);
    snprintf (self->client_ep, sizeof self->client_ep, "tcp://*:5555");
    self->heartbeat_ms = 200;
    self->max_msg = 1024 * 1024;
    if (role == CONFIG_MASTER)
        snprintf (self->id, sizeof self->id, "master");
    if (master) {
        self->replicas = 2;
        snprintf (self->pub_ep, sizeof self->pub_ep, "tcp://*:5556");
        snprintf (self->peer_ep, sizeof self->peer_ep, "tcp://*:5557");
    } else {
        snprintf (self->master_pub, sizeof self->master_pub, "tcp://127.0.0.1:5556");
        snprintf (self->master_peer, sizeof self->master_peer, "tcp://127.0.0.1:5557");
    }
    self->max_waiters = 100000;
    self->max_client_waiting = 10000;
    self->fetch_max = 8192;
    self->max_connections = 4096;
    self->drain_max = 1024;
    self->drain_bytes = 8 * 1024 * 1024;
    self->holdback_max = 65536;
    self->holdback_bytes = 64 * 1024 * 1024;
    self->fsync = CONFIG_FSYNC_ALWAYS;
    self->fsync_ms = 50;
    self->segment_bytes = STORE_SEGMENT_DEFAULT;
}

int config_set_secondaries (config_t *self, const char *list, char *err, size_t err_size)
{
    uint32_t count = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn (p, ",");
        if (len == 0 || len > CONFIG_ID_MAX || count == CONFIG_MEMBERS_MAX) {
            snprintf (err, err_size,
                      "--secondaries takes up to %d ids of 1..%d characters, comma separated",
                      CONFIG_MEMBERS_MAX, CONFIG_ID_MAX);
            return -1;
        }
        memcpy (self->secondaries[count], p, len);
        self->secondaries[count][len] = 0;
        for (uint32_t i = 0; i < count; i++)
            if (strcmp (self->secondaries[i], self->secondaries[count]) == 0) {
                snprintf (err, err_size, "--secondaries names '%s' twice",
                          self->secondaries[count]);
                return -1;
            }
        count++;
        p += len + (p[len] == ',');
    }
    self->replicas = count;
    return 0;
}

static int s_check_health (config_t *self, char *err, size_t err_size)
{
    if (self->heartbeat_ms < 10 || self->heartbeat_ms > 60000) {
        snprintf (err, err_size, "heartbeat must be 10..60000 ms (got %lld)",
                  (long long)self->heartbeat_ms);
        return -1;
    }
    //  Five missed beats before suspicion keeps one late beat from flapping.
    if (self->suspect_ms == 0)
        self->suspect_ms = 5 * self->heartbeat_ms;
    if (self->unhealthy_ms == 0)
        self->unhealthy_ms = 15 * self->heartbeat_ms;
    if (self->recover_ms == 0)
        self->recover_ms = 5 * self->heartbeat_ms;
    if (self->suspect_ms < self->heartbeat_ms || self->unhealthy_ms <= self->suspect_ms) {
        snprintf (err, err_size, "need heartbeat <= suspect-ms < unhealthy-ms");
        return -1;
    }
    return 0;
}

static int s_check_storage (config_t *self, char *err, size_t err_size)
{
    if (self->fsync_ms < 1 || self->fsync_ms > 60000) {
        snprintf (err, err_size, "fsync-ms must be 1..60000");
        return -1;
    }
    if (self->segment_bytes < STORE_SEGMENT_MIN || self->segment_bytes > STORE_SEGMENT_MAX) {
        snprintf (err, err_size, "segment-bytes must be %zu..%zu (1 GiB)", STORE_SEGMENT_MIN,
                  STORE_SEGMENT_MAX);
        return -1;
    }
    if (self->max_msg < 1 || self->max_msg > 64 * 1024 * 1024) {
        snprintf (err, err_size, "max-msg must be 1..67108864 bytes");
        return -1;
    }
    if (self->drain_max < 1 || self->drain_bytes < 1 || self->fetch_max < 1) {
        snprintf (err, err_size, "drain-max, drain-bytes and fetch-max must be >= 1");
        return -1;
    }
    return 0;
}

static int s_check_curve (config_t *self, config_role_t role, char *err, size_t err_size)
{
    bool keys = self->curve_nodes[0] || self->curve_clients[0] || self->master_key[0];
    if (keys && !self->curve_secret[0]) {
        snprintf (err, err_size,
                  "--curve-allow-nodes, --curve-allow-clients and --master-key need "
                  "--curve-secret FILE");
        return -1;
    }
    //  Without a node certificate there would be no node links to keep
    //  apart from the shared one: it is always an addition to a node's own.
    if (self->curve_client_cert[0] && !self->curve_secret[0]) {
        snprintf (err, err_size,
                  "--curve-client-cert needs --curve-secret FILE (the node's own certificate, "
                  "which its links to other nodes keep using)");
        return -1;
    }
    if (!self->curve_secret[0])
        return 0;
    if (role != CONFIG_SECONDARY && !self->curve_nodes[0]) {
        snprintf (err, err_size,
                  "--curve-secret needs --curve-allow-nodes DIR (the public "
                  "certificates of the secondaries, named by node id)");
        return -1;
    }
    if (role == CONFIG_SECONDARY && !self->master_key[0]) {
        snprintf (err, err_size,
                  "--curve-secret needs --master-key FILE (the master's public certificate)");
        return -1;
    }
    return 0;
}

static int s_check_master (config_t *self, char *err, size_t err_size)
{
    if (self->replicas > CONFIG_MEMBERS_MAX - 1) {
        snprintf (err, err_size, "replicas must be 0..%d (got %u)", CONFIG_MEMBERS_MAX - 1,
                  self->replicas);
        return -1;
    }
    //  Slots are bound to ids: without --secondaries they are s1..sN.
    for (uint32_t i = 0; i < self->replicas; i++)
        if (!self->secondaries[i][0])
            snprintf (self->secondaries[i], sizeof self->secondaries[i], "s%u", i + 1);
    if (self->quorum > self->replicas + 1) {
        snprintf (err, err_size, "quorum %u exceeds the %u nodes", self->quorum,
                  self->replicas + 1);
        return -1;
    }
    if (self->max_waiters < 1 || self->max_client_waiting < 1) {
        snprintf (err, err_size, "max-waiters and max-client-waiting must be >= 1");
        return -1;
    }
    return 0;
}

static int s_check_secondary (config_t *self, char *err, size_t err_size)
{
    size_t len = strlen (self->id);
    if (len == 0 || len > CONFIG_ID_MAX) {
        snprintf (err, err_size, "secondary needs --id NAME (1..63 characters)");
        return -1;
    }
    if (self->fail_rate < 0 || self->fail_rate > 1 || self->drop_rate < 0 || self->drop_rate > 1) {
        snprintf (err, err_size, "fail-rate and drop-rate must be within 0..1");
        return -1;
    }
    if (self->delay_ms < 0 || self->delay_ms > 3600000) {
        snprintf (err, err_size, "delay-ms must be 0..3600000");
        return -1;
    }
    if (self->holdback_max < 1 || self->holdback_bytes < 1) {
        snprintf (err, err_size, "holdback and holdback-bytes must be >= 1");
        return -1;
    }
    return 0;
}

int config_set_peers (config_t *self, const char *list, char *err, size_t err_size)
{
    size_t count = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn (p, ",");
        char item[CONFIG_ENDPOINT_MAX];
        snprintf (item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        char *eq = strchr (item, '=');
        char *colon = eq ? strrchr (eq, ':') : NULL;
        char *end = NULL;
        long port = colon ? strtol (colon + 1, &end, 10) : 0;
        if (count == CONFIG_MEMBERS_MAX || len >= sizeof item || !eq || eq == item ||
            eq - item > CONFIG_ID_MAX || !colon || colon == eq + 1 || !end || *end || port < 1 ||
            port > 65533) {
            snprintf (err, err_size,
                      "--peers takes up to %d entries ID=HOST:PORT (PORT 1..65533: the node "
                      "also uses PORT+1 and PORT+2), comma separated; got '%.60s'",
                      CONFIG_MEMBERS_MAX, item);
            return -1;
        }
        config_member_t *m = &self->members[count];
        snprintf (m->id, sizeof m->id, "%.*s", (int)(eq - item), item);
        snprintf (m->host, sizeof m->host, "%.*s", (int)(colon - eq - 1), eq + 1);
        m->port = (int)port;
        for (size_t i = 0; i < count; i++)
            if (strcmp (self->members[i].id, m->id) == 0) {
                snprintf (err, err_size, "--peers names '%s' twice", m->id);
                return -1;
            }
        count++;
        p += len + (p[len] == ',');
    }
    self->member_count = count;
    return 0;
}

int config_member (const config_t *self, const char *id)
{
    for (size_t i = 0; i < self->member_count; i++)
        if (strcmp (self->members[i].id, id) == 0)
            return (int)i;
    return -1;
}

//  An elected node listens where its own entry says, on every interface,
//  and keeps its vote on disk.
static int s_check_node (config_t *self, char *err, size_t err_size)
{
    int me = config_member (self, self->id);
    if (!self->id[0] || me < 0) {
        snprintf (err, err_size, "rlogd node needs --id NAME, one of the ids in --peers");
        return -1;
    }
    if (!self->data_dir[0]) {
        snprintf (err, err_size,
                  "rlogd node needs --data-dir: an elected node must remember its vote and "
                  "its epoch across a restart");
        return -1;
    }
    const config_member_t *m = &self->members[me];
    snprintf (self->client_ep, sizeof self->client_ep, "tcp://*:%d", m->port);
    snprintf (self->pub_ep, sizeof self->pub_ep, "tcp://*:%d", m->port + 1);
    snprintf (self->peer_ep, sizeof self->peer_ep, "tcp://*:%d", m->port + 2);
    if (!self->advertise[0])
        snprintf (self->advertise, sizeof self->advertise, "tcp://%s:%d", m->host, m->port);
    //  Every other member is a secondary while this one leads.
    self->replicas = 0;
    for (size_t i = 0; i < self->member_count; i++)
        if ((int)i != me)
            snprintf (self->secondaries[self->replicas++], sizeof self->secondaries[0], "%s",
                      self->members[i].id);
    if (self->election_min_ms == 0)
        self->election_min_ms = self->suspect_ms;
    if (self->election_max_ms == 0)
        self->election_max_ms = 2 * self->election_min_ms;
    if (self->election_max_ms < self->election_min_ms) {
        snprintf (err, err_size, "election-max-ms must be >= election-min-ms");
        return -1;
    }
    if (self->quorum && self->quorum != self->member_count / 2 + 1) {
        snprintf (err, err_size, "an elected cluster's quorum is a majority: leave --quorum out");
        return -1;
    }
    return s_check_master (self, err, err_size);
}

int config_finish (config_t *self, config_role_t role, char *err, size_t err_size)
{
    if (s_check_health (self, err, err_size) != 0 || s_check_storage (self, err, err_size) != 0 ||
        s_check_curve (self, role, err, err_size) != 0)
        return -1;
    if (role == CONFIG_NODE)
        return s_check_node (self, err, err_size);
    return role == CONFIG_MASTER ? s_check_master (self, err, err_size)
                                 : s_check_secondary (self, err, err_size);
}

const char *config_storage (const config_t *self, char *buf, size_t size)
{
    const char *policies[] = {"always", "batch", "never"};
    if (self->data_dir[0])
        snprintf (buf, size, "data dir %s, fsync %s", self->data_dir, policies[self->fsync]);
    else
        snprintf (buf, size, "in memory (no data dir)");
    return buf;
}
