/*  cert.h - CURVE keys of a client: its certificate and the node's key.

    Certificates are czmq's files: NAME (public) and NAME_secret, as written
    by `logcli keygen NAME`. A client authenticates with its own certificate
    (both files) and accepts only the node whose public certificate it was
    given. A cert_curve_t holds both, loaded together or not at all, and
    makes sockets CURVE clients with them (before they connect).
*/
#ifndef CERT_H_INCLUDED
#define CERT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

//  Load the certificate at PATH (and PATH_secret when SECRET). NULL with a
//  reason in ERR if a file is missing, holds no valid key, or this libzmq
//  has no CURVE.
zcert_t *cert_load (const char *path, bool secret, char *err, size_t err_size);

typedef struct _cert_curve_t cert_curve_t;

//  Our certificate CERT_PATH (+ _secret) and the node's public certificate
//  SERVER_CERT_PATH, both read now. NULL with the reason in ERR.
cert_curve_t *cert_curve_new (const char *cert_path, const char *server_cert_path, char *err,
                              size_t err_size);

void cert_curve_destroy (cert_curve_t **self_p);

//  Make SOCK a CURVE client with these keys (before it connects). Safe
//  with SELF NULL (no CURVE: nothing to do).
void cert_curve_apply (const cert_curve_t *self, zsock_t *sock);

#endif
