/*  auth.c - the node's certificate, its two key sets, and the ZAP handler.

    libzmq asks the ZAP handler (a REP socket bound to inproc://zeromq.zap.01
    in the socket's context) about every CURVE handshake, synchronously from
    its I/O thread; the handler runs as an actor so the event loop never
    has to answer. The key sets are filled before the actor starts and never
    change, so the actor reads them without locks.
*/
#include "auth.h"
#include <dirent.h>

#define KEYS_MAX 1024

typedef struct {
    char id[64]; //  node id (file name), "" for clients
    char key[41];
} key_t_;

struct _auth_t {
    zcert_t *cert;
    zcert_t *client_cert; //  the client socket's, NULL: CERT
    key_t_ nodes[KEYS_MAX];
    size_t node_count;
    key_t_ clients[KEYS_MAX];
    size_t client_count;
    zactor_t *handler;
};

static bool s_known (const key_t_ *set, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (streq (set[i].key, key))
            return true;
    return false;
}

static bool s_admit (auth_t *self, const char *domain, const char *key)
{
    if (s_known (self->nodes, self->node_count, key))
        return true;
    return streq (domain, AUTH_CLIENTS) && s_known (self->clients, self->client_count, key);
}

//  One ZAP request: [version][request id][domain][address][identity]
//  [mechanism][credentials...]; the reply names the key as User-Id.
static void s_answer (auth_t *self, zsock_t *rep)
{
    zmsg_t *request = zmsg_recv (rep);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key[41] = "";
    bool ok = version && streq (version, "1.0") && mechanism && streq (mechanism, "CURVE") &&
              credentials && zframe_size (credentials) == 32 && domain;
    if (ok) {
        zmq_z85_encode (key, zframe_data (credentials), 32);
        ok = s_admit (self, domain, key);
    }
    zsock_send (rep, "ssssss", "1.0", sequence ? sequence : "", ok ? "200" : "400",
                ok ? "OK" : "key not allowed", ok ? key : "", "");
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&credentials);
    zmsg_destroy (&request);
}

static void s_handler (zsock_t *pipe, void *arg)
{
    auth_t *self = (auth_t *)arg;
    zsock_t *rep = zsock_new (ZMQ_REP);
    if (!rep || zsock_bind (rep, "inproc://zeromq.zap.01") != 0) {
        zsock_destroy (&rep);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, rep, NULL);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which == rep)
            s_answer (self, rep);
        else
            break; //  $TERM, or interrupted
    }
    zpoller_destroy (&poller);
    zsock_destroy (&rep);
}

int auth_load_public (const char *path, char *key, char *err, size_t err_size)
{
    zcert_t *cert = path && *path && zsys_file_exists (path) ? zcert_load (path) : NULL;
    const char *zero = "0000000000000000000000000000000000000000";
    if (!cert || streq (zcert_public_txt (cert), zero)) {
        snprintf (err, err_size, "%.300s is not a public CURVE certificate%s", path ? path : "",
                  cert ? "" : " (not found or unreadable)");
        zcert_destroy (&cert);
        return -1;
    }
    snprintf (key, 41, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

//  Every public certificate in DIR (skipping *_secret files); with IDS, the
//  file name is the node id it binds.
static int s_load_dir (const char *dir, key_t_ *set, size_t *count, bool ids, char *err,
                       size_t err_size)
{
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "key directory %.300s: %s", dir, strerror (errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir (d))) {
        size_t len = strlen (e->d_name);
        if (e->d_name[0] == '.' || (len > 7 && streq (e->d_name + len - 7, "_secret")))
            continue;
        if (*count >= KEYS_MAX || (ids && len > 63)) {
            snprintf (err, err_size, "%.300s: too many keys, or a file name over 63 bytes", dir);
            rc = -1;
            break;
        }
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        key_t_ *k = &set[*count];
        rc = auth_load_public (path, k->key, err, err_size);
        if (rc == 0) {
            memcpy (k->id, e->d_name, ids ? len + 1 : 1);
            k->id[ids ? len : 0] = 0;
            (*count)++;
        }
    }
    closedir (d);
    return rc;
}

//  A certificate with its secret key: SECRET (public) and SECRET_secret.
static zcert_t *s_load_secret (const char *secret, char *err, size_t err_size)
{
    const char *zero = "0000000000000000000000000000000000000000";
    char probe[1100];
    snprintf (probe, sizeof probe, "%s_secret", secret ? secret : "");
    if (!secret || !*secret || !zsys_file_exists (probe)) {
        //  Two likely slips get a hint: naming the _secret file itself, and
        //  a public certificate alone (a server needs the secret half).
        size_t len = secret ? strlen (secret) : 0;
        bool named_secret = len > 7 && streq (secret + len - 7, "_secret");
        bool public_only = len && zsys_file_exists (secret);
        snprintf (err, err_size, "certificate %.300s not found (%s)", probe,
                  named_secret  ? "give the certificate's name, without _secret"
                  : public_only ? "only its public half is there"
                                : "create one with: logcli keygen NAME");
        return NULL;
    }
    //  zcert_load says nothing of why it failed: an unreadable file is
    //  told apart here.
    FILE *file = fopen (probe, "r");
    if (!file) {
        snprintf (err, err_size, "cannot read %.300s: %s", probe, strerror (errno));
        return NULL;
    }
    fclose (file);
    zcert_t *cert = zcert_load (secret);
    if (!cert || streq (zcert_secret_txt (cert), zero) || streq (zcert_public_txt (cert), zero)) {
        snprintf (err, err_size, "%.300s is not a valid CURVE certificate with a secret key",
                  probe);
        zcert_destroy (&cert);
    }
    return cert;
}

//  The shared client certificate is on every node: were it a node's key,
//  every node would hold that node's secret and could vote and acknowledge
//  as it. Our own key is the one exception (it is what we present anyway).
static int s_check_shared (auth_t *self, char *err, size_t err_size)
{
    const char *key = zcert_public_txt (self->client_cert);
    if (streq (key, zcert_public_txt (self->cert)))
        return 0;
    for (size_t i = 0; i < self->node_count; i++)
        if (streq (self->nodes[i].key, key)) {
            snprintf (err, err_size,
                      "the --curve-client-cert certificate is node '%s''s key: every node "
                      "given it could pose as '%s' to the others (make it one of its own, "
                      "logcli keygen NAME)",
                      self->nodes[i].id, self->nodes[i].id);
            return -1;
        }
    return 0;
}

int auth_check_secret (const char *path, char *err, size_t err_size)
{
    zcert_t *cert = s_load_secret (path, err, err_size);
    int rc = cert ? 0 : -1;
    zcert_destroy (&cert);
    return rc;
}

auth_t *auth_new (const char *secret, const char *client_secret, const char *nodes_dir,
                  const char *clients_dir, char *err, size_t err_size)
{
    if (!zsys_has_curve ()) {
        snprintf (err, err_size, "this libzmq has no CURVE support");
        return NULL;
    }
    auth_t *self = (auth_t *)zmalloc (sizeof (auth_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cert = s_load_secret (secret, err, err_size);
    bool ok = self->cert != NULL;
    if (ok && client_secret && *client_secret) {
        self->client_cert = s_load_secret (client_secret, err, err_size);
        ok = self->client_cert != NULL;
    }
    if (ok && nodes_dir && *nodes_dir)
        ok = s_load_dir (nodes_dir, self->nodes, &self->node_count, true, err, err_size) == 0;
    if (ok && clients_dir && *clients_dir)
        ok =
            s_load_dir (clients_dir, self->clients, &self->client_count, false, err, err_size) == 0;
    if (ok && self->client_cert)
        ok = s_check_shared (self, err, err_size) == 0;
    if (ok && (self->node_count || self->client_count)) {
        self->handler = zactor_new (s_handler, self);
        if (!self->handler) {
            snprintf (err, err_size, "cannot start the authentication handler");
            ok = false;
        }
    }
    if (!ok)
        auth_destroy (&self);
    return self;
}

void auth_destroy (auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    zactor_destroy (&self->handler);
    zcert_destroy (&self->cert);
    zcert_destroy (&self->client_cert);
    free (self);
    *self_p = NULL;
}

void auth_server (auth_t *self, zsock_t *sock, const char *domain)
{
    bool client = streq (domain, AUTH_CLIENTS) && self->client_cert;
    zcert_apply (client ? self->client_cert : self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
}

void auth_client (auth_t *self, zsock_t *sock, const char *server_key)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
}

const char *auth_node_key (auth_t *self, const char *id)
{
    for (size_t i = 0; i < self->node_count; i++)
        if (streq (self->nodes[i].id, id))
            return self->nodes[i].key;
    return NULL;
}

const char *auth_public_key (auth_t *self)
{
    return zcert_public_txt (self->cert);
}

const char *auth_client_public_key (auth_t *self)
{
    return zcert_public_txt (self->client_cert ? self->client_cert : self->cert);
}
