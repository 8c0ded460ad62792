/*  reads.h - the read side every node serves on its client socket: LIST
    pages out of the log's records.
*/
#ifndef READS_H_INCLUDED
#define READS_H_INCLUDED

#include "proto.h"
#include "store.h"

//  Encode into ENC the LIST_REPLY for entries FROM.. (0 = 1) of STORE's
//  written prefix, at most LIMIT (0 = as many as one reply holds:
//  PROTO_LIST_MAX_ENTRIES entries, PROTO_LIST_MAX_BYTES of payload, but at
//  least one entry). SCRATCH holds PROTO_LIST_MAX_ENTRIES payloads.
//  Returns 0, or -1 on out of memory.
int reads_list (proto_encoder_t *enc, store_t *store, uint64_t from, uint64_t limit,
                proto_payload_t *scratch);

#endif
