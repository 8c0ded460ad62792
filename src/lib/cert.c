/*  cert.c - a client's CURVE keys (cert.h).

    Owns the client's certificate (public and secret key) and the node's
    public key, as text; sockets get copies of the keys when they are set
    up, so the object may go once the sockets exist.
*/
#include "cert.h"

//  Z85 of a 32-byte key, and its terminator
#define S_KEY_TEXT 41

struct _cert_curve_t {
    zcert_t *cert;
    char server_key[S_KEY_TEXT];
};

zcert_t *cert_load (const char *path, bool secret, char *err, size_t err_size)
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

cert_curve_t *cert_curve_new (const char *cert_path, const char *server_cert_path, char *err,
                              size_t err_size)
{
    zcert_t *cert = cert_load (cert_path, true, err, err_size);
    if (!cert)
        return NULL;
    zcert_t *server = cert_load (server_cert_path, false, err, err_size);
    cert_curve_t *self = server ? (cert_curve_t *)zmalloc (sizeof (cert_curve_t)) : NULL;
    if (!self) {
        if (server)
            snprintf (err, err_size, "out of memory");
        zcert_destroy (&server);
        zcert_destroy (&cert);
        return NULL;
    }
    self->cert = cert;
    snprintf (self->server_key, sizeof self->server_key, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    return self;
}

void cert_curve_destroy (cert_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zcert_destroy (&(*self_p)->cert);
    free (*self_p);
    *self_p = NULL;
}

void cert_curve_apply (const cert_curve_t *self, zsock_t *sock)
{
    if (!self || !sock)
        return;
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, self->server_key);
}
