/*  security.h - CURVE authentication of a node's sockets (CurveZMQ + ZAP).

    A node with a certificate makes its listening sockets CURVE servers and
    runs a ZAP handler (czmq's zauth) that admits only the public keys found
    in the allow directory. A node that connects (a secondary to its master)
    is a CURVE client with its own certificate and the server's public key.
    Certificates are czmq's files: NAME (public) and NAME_secret, written by
    `logcli keygen NAME`.
*/
#ifndef SECURITY_H_INCLUDED
#define SECURITY_H_INCLUDED

#include <czmq.h>

typedef struct _security_t security_t;

//  SECRET: base path of this node's certificate (NAME, reads NAME_secret).
//  ALLOW: directory of public certificates allowed to connect (servers).
//  SERVER_KEY: public certificate file of the server to connect to
//  (clients); may be NULL for a node that only listens.
//  Returns NULL with a reason in ERR if a file is missing or not a valid
//  certificate, or CURVE is not available in this libzmq.
security_t *security_new (const char *secret, const char *allow, const char *server_key, char *err,
                          size_t err_size);
void security_destroy (security_t **self_p);

//  Load the certificate at PATH (and PATH_secret when SECRET), as written by
//  `logcli keygen`. NULL with a reason in ERR if missing or not valid.
zcert_t *security_load_cert (const char *path, bool secret, char *err, size_t err_size);

//  Make SOCK a CURVE server (before bind).
void security_server (security_t *self, zsock_t *sock);

//  Make SOCK a CURVE client of the configured server (before connect).
void security_client (security_t *self, zsock_t *sock);

//  Our public key, Z85 text.
const char *security_public_key (security_t *self);

//  The authenticated public key (Z85) of the peer that sent MSG, or NULL
//  when the connection is not authenticated.
const char *security_peer_key (zmq_msg_t *msg);

#endif
