/*  security.c - CURVE certificates and the ZAP handler of one node.
 */
#include "security.h"

struct _security_t {
    zcert_t *cert;
    zactor_t *auth; //  ZAP handler, only when we serve
    char server_key[41];
};

zcert_t *security_load_cert (const char *path, bool secret, char *err, size_t err_size)
{
    if (!zsys_has_curve ()) {
        snprintf (err, err_size, "this libzmq has no CURVE support");
        return NULL;
    }
    char probe[1100];
    snprintf (probe, sizeof probe, "%s%s", path ? path : "", secret ? "_secret" : "");
    if (!path || !*path || !zsys_file_exists (probe)) {
        snprintf (err, err_size, "certificate %.300s not found%s", probe,
                  secret ? " (create one with: logcli keygen NAME)" : "");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    //  zcert_load leaves a key all zeros when the file holds no valid one.
    const char *zero = "0000000000000000000000000000000000000000";
    if (!cert || streq (zcert_public_txt (cert), zero) ||
        (secret && streq (zcert_secret_txt (cert), zero))) {
        snprintf (err, err_size, "%.300s is not a valid CURVE certificate%s", probe,
                  secret ? " with a secret key" : "");
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

security_t *security_new (const char *secret, const char *allow, const char *server_key, char *err,
                          size_t err_size)
{
    if (!zsys_has_curve ()) {
        snprintf (err, err_size, "this libzmq has no CURVE support");
        return NULL;
    }
    security_t *self = (security_t *)zmalloc (sizeof (security_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cert = security_load_cert (secret, true, err, err_size);
    if (!self->cert) {
        security_destroy (&self);
        return NULL;
    }
    if (server_key && *server_key) {
        zcert_t *server = security_load_cert (server_key, false, err, err_size);
        if (!server) {
            security_destroy (&self);
            return NULL;
        }
        snprintf (self->server_key, sizeof self->server_key, "%s", zcert_public_txt (server));
        zcert_destroy (&server);
    }
    if (allow && *allow) {
        if (!zsys_file_exists (allow)) {
            snprintf (err, err_size, "allow directory %s not found", allow);
            security_destroy (&self);
            return NULL;
        }
        self->auth = zactor_new (zauth, NULL);
        if (!self->auth || zstr_sendx (self->auth, "CURVE", allow, NULL) != 0 ||
            zsock_wait (self->auth) != 0) {
            snprintf (err, err_size, "cannot start the authentication handler");
            security_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void security_destroy (security_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    security_t *self = *self_p;
    zactor_destroy (&self->auth);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

void security_server (security_t *self, zsock_t *sock)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "rlog");
}

void security_client (security_t *self, zsock_t *sock)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, self->server_key);
}

const char *security_public_key (security_t *self)
{
    return zcert_public_txt (self->cert);
}

const char *security_peer_key (zmq_msg_t *msg)
{
    return zmq_msg_gets (msg, "User-Id");
}
