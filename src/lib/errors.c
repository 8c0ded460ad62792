/*  errors.c - the text of every rlog_err_t code (librlog's rlog_strerror).

    The same numbers travel on the wire, so nodes and clients share this one
    table; a code outside it reads "unknown error".
*/
#include "rlog.h"

static const char *s_errors[RLOG_ERR_MAX] = {
    "ok",
    "timed out waiting for the write concern",
    "read-only: not enough healthy nodes",
    "write concern out of range",
    "message too large",
    "empty message",
    "not the master",
    "busy",
    "malformed frame",
    "unsupported protocol version",
    "unknown message type",
    "request id too old to deduplicate",
    "unreachable",
    "internal error",
    "invalid argument",
    "refused",
    "another history than the master's",
};

const char *rlog_strerror (int code)
{
    if (code < 0 || code >= RLOG_ERR_MAX || !s_errors[code])
        return "unknown error";
    return s_errors[code];
}
