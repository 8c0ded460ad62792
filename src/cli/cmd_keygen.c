/*  cmd_keygen.c - logcli keygen NAME: a new CURVE certificate.

    Writes NAME (the public certificate, for the nodes' allow directory or
    a client's --server-key) and NAME_secret (the secret one) with czmq's
    zcert, and prints the public key. No node is involved. Never
    overwrites a key: losing a secret key locks its owner out of a cluster.
    The secret file is created readable by its owner only from the start
    (umask), never opened up afterwards.
*/
#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

//  Both files of NAME written; 0, or 1 with the reason on stderr.
static int s_write (zcert_t *cert, const char *name, const char *secret)
{
    //  Created private, so the secret key is never readable by others, not
    //  even for a moment; the public half is then opened up.
    mode_t old_mask = umask (077);
    int rc = cert ? zcert_save (cert, name) : -1;
    umask (old_mask);
    if (rc != 0 || chmod (name, 0644) != 0) {
        fprintf (stderr, "logcli: keygen: cannot write %s and %s: %s\n", name, secret,
                 strerror (errno));
        return CLI_EXIT_LOCAL;
    }
    return 0;
}

int cmd_keygen (int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-' || !argv[0][0])
        return cli_usage_error ("keygen: needs one NAME (writes NAME and NAME_secret)%s", "");
    const char *name = argv[0];
    char secret[1100];
    snprintf (secret, sizeof secret, "%s_secret", name);
    if (zsys_file_exists (name) || zsys_file_exists (secret)) {
        fprintf (stderr, "logcli: keygen: %s or %s already exists; not overwriting a key\n", name,
                 secret);
        return CLI_EXIT_LOCAL;
    }
    if (!zsys_has_curve ()) {
        fprintf (stderr, "logcli: keygen: this libzmq has no CURVE support\n");
        return CLI_EXIT_LOCAL;
    }
    zcert_t *cert = zcert_new ();
    int rc = s_write (cert, name, secret);
    if (rc == 0)
        printf ("wrote %s (public certificate: copy it into the nodes' allow directory)\n"
                "wrote %s (secret certificate: keep it private)\n"
                "public key %s\n",
                name, secret, zcert_public_txt (cert));
    zcert_destroy (&cert);
    return rc;
}
