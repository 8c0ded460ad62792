/*  append_and_list.c - librlog in brief: append one message, list the log.
    make examples && build/examples/append_and_list [ENDPOINT] [MESSAGE]
*/
#include <inttypes.h>
#include <rlog.h>
#include <stdio.h>
#include <string.h>

static int print_entry (uint64_t seq, const void *data, size_t size, void *arg)
{
    (void)arg; //  data is valid only during the call, and not NUL-terminated
    printf ("%" PRIu64 "\t%.*s\n", seq, (int)size, (const char *)data);
    return 0; //  non-zero would stop the listing
}

int main (int argc, char **argv)
{
    const char *endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:5555";
    const char *message = argc > 2 ? argv[2] : "hello from librlog";
    rlog_client_t *client = rlog_client_new (endpoint);
    if (!client)
        return 2;
    //  w=2: the master and one secondary hold it; give up waiting after 5 s.
    rlog_append_result_t result;
    int rc = rlog_client_append (client, message, strlen (message), 2, 5000, &result);
    if (rc == RLOG_OK) {
        printf ("appended at seq %" PRIu64 " on %u nodes\n", result.seq, result.acks);
        rc = rlog_client_list (client, 1, 10, print_entry, NULL);
    }
    if (rc != RLOG_OK)
        fprintf (stderr, "%s: %s\n", rlog_strerror (rc), rlog_client_error (client));
    rlog_client_destroy (&client);
    return rc == RLOG_OK ? 0 : 1;
}
