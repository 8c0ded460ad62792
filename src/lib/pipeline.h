/*  pipeline.h - what bulk.c needs of a pipeline beyond include/rlog.h.

    Internal to librlog (not exported): the session behind a pipeline, for
    the bulk appender's liveness probes, and a move to the next endpoint
    that leaves resending to the caller.
*/
#ifndef PIPELINE_H_INCLUDED
#define PIPELINE_H_INCLUDED

#include "cert.h"
#include "rlog.h"
#include "session.h"

//  As rlog_pipeline_new, with CURVE keys (ownership taken, also on
//  failure; NULL: none).
rlog_pipeline_t *pipeline_new (const char *endpoints, int w, int timeout_ms, cert_curve_t *curve);

session_t *pipeline_session (rlog_pipeline_t *self);

//  Move to the next endpoint of the list. Batches in flight are forgotten
//  (their answers were on the old connection): the caller resubmits them.
void pipeline_next (rlog_pipeline_t *self);

#endif
