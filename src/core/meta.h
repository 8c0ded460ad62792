/*  meta.h - what a node must remember beside its log: which history the
    log belongs to, the highest epoch it has seen or taken, and its vote.

    In a data dir these live in DIR/meta, rewritten atomically (temporary
    file, fsync, rename, fsync of the directory) whenever they change, so a
    node never forgets an epoch it acted in or a vote it gave. Without a
    data dir they live in memory only (a restarted in-memory node starts a
    new history, with a fresh identity, so nothing can confuse the two).

    The file is text, one "key value" per line:
        format 2
        history 0123456789abcdef0123456789abcdef   (32 hex digits, or -)
        epoch 17
        voted_epoch 17
        voted_for n2                                (or -)
*/
#ifndef META_H_INCLUDED
#define META_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_HISTORY_SIZE 16
#define META_ID_MAX       63

typedef struct {
    bool has_history;
    uint8_t history[META_HISTORY_SIZE];
    uint64_t epoch;                  //  highest epoch seen or taken
    uint64_t voted_epoch;            //  the epoch of the last vote given
    char voted_for[META_ID_MAX + 1]; //  "" = none in voted_epoch
} meta_t;

//  Read DIR/meta into META (all zero when the file does not exist).
//  Returns 0, or -1 with the reason in ERR (unreadable, or not this
//  format: "DIR/meta: not an rlog meta file (format 2)").
int meta_load (const char *dir, meta_t *meta, char *err, size_t err_size);

//  Write META to DIR/meta durably (see above). 0, or -1 with ERR.
int meta_save (const char *dir, const meta_t *meta, char *err, size_t err_size);

//  A new random history identity into META (has_history set).
void meta_new_history (meta_t *meta);

//  Hex text of a history ("" when none): BUF of at least 33 bytes.
const char *meta_history_hex (const uint8_t *history, char *buf, size_t size);

#endif
