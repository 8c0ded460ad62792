/*  config.c - defaults and consistency checks for config_t.
 */
#include "config.h"
#include "disklog.h"
#include <stdio.h>
#include <string.h>

_Static_assert(CONFIG_SEGMENT_MIN >= DISKLOG_SEGMENT_MIN &&
                   CONFIG_SEGMENT_MAX <= DISKLOG_SEGMENT_MAX,
               "every --segment-bytes accepted must be one the disk log opens");

void config_defaults (config_t *self, bool master)
{
    memset (self, 0, sizeof *self);
    snprintf (self->client_ep, sizeof self->client_ep, "tcp://*:5555");
    self->heartbeat_ms = 200;
    self->max_msg = 1024 * 1024;
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
    self->drain_max = 1024;
    self->holdback_max = 65536;
    self->fsync = CONFIG_FSYNC_ALWAYS;
    self->fsync_ms = 50;
    self->segment_bytes = 64 * 1024 * 1024;
}

int config_finish (config_t *self, bool master, char *err, size_t err_size)
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
    if (self->fsync_ms < 1 || self->fsync_ms > 60000) {
        snprintf (err, err_size, "fsync-ms must be 1..60000");
        return -1;
    }
    if (self->segment_bytes < CONFIG_SEGMENT_MIN || self->segment_bytes > CONFIG_SEGMENT_MAX) {
        snprintf (err, err_size, "segment-bytes must be %zu..%zu (4 KiB..1 GiB), got %zu",
                  CONFIG_SEGMENT_MIN, CONFIG_SEGMENT_MAX, self->segment_bytes);
        return -1;
    }
    if (self->curve_secret[0] && !self->curve_allow[0]) {
        snprintf (err, err_size, "--curve-secret needs --curve-allow DIR (who may connect)");
        return -1;
    }
    if (!master && self->curve_secret[0] && !self->master_key[0]) {
        snprintf (err, err_size,
                  "--curve-secret needs --master-key FILE (the master's public "
                  "certificate)");
        return -1;
    }
    if ((self->curve_allow[0] || self->master_key[0]) && !self->curve_secret[0]) {
        snprintf (err, err_size, "--curve-allow and --master-key need --curve-secret FILE");
        return -1;
    }
    if (self->max_msg < 1 || self->max_msg > 64 * 1024 * 1024) {
        snprintf (err, err_size, "max-msg must be 1..67108864 bytes");
        return -1;
    }
    if (master) {
        if (self->replicas > 31) {
            snprintf (err, err_size, "replicas must be 0..31 (got %u)", self->replicas);
            return -1;
        }
        if (self->quorum > self->replicas + 1) {
            snprintf (err, err_size, "quorum %u exceeds the %u nodes", self->quorum,
                      self->replicas + 1);
            return -1;
        }
        if (self->max_waiters < 1 || self->fetch_max < 1 || self->drain_max < 1 ||
            self->max_client_waiting < 1) {
            snprintf (err, err_size, "max-waiters, fetch-max and drain-max must be >= 1");
            return -1;
        }
    } else {
        size_t len = strlen (self->id);
        if (len == 0 || len > 63) {
            snprintf (err, err_size, "secondary needs --id NAME (1..63 characters)");
            return -1;
        }
        if (self->fail_rate < 0 || self->fail_rate > 1 || self->drop_rate < 0 ||
            self->drop_rate > 1) {
            snprintf (err, err_size, "fail-rate and drop-rate must be within 0..1");
            return -1;
        }
        if (self->delay_ms < 0 || self->delay_ms > 3600000) {
            snprintf (err, err_size, "delay-ms must be 0..3600000");
            return -1;
        }
        if (self->holdback_max < 1 || self->fetch_max < 1) {
            snprintf (err, err_size, "holdback and fetch-max must be >= 1");
            return -1;
        }
    }
    return 0;
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
