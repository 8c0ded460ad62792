/*  epoch.h - the master's epoch, persisted in its data directory.

    Each master start takes a new epoch, strictly greater than every epoch
    this data directory has seen and, when the clock allows, equal to the
    wall-clock milliseconds (so epochs also order masters on different disks).
*/
#ifndef EPOCH_H_INCLUDED
#define EPOCH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Read DIR/epoch (0 if absent), choose max(previous + 1, NOW_MS, FLOOR + 1),
//  write it back durably (temp file, fsync, rename, fsync DIR) and return it
//  in *EPOCH_P. FLOOR is the newest epoch found in the log itself. Returns 0,
//  or -1 with the reason in ERR.
int epoch_next (const char *dir, uint64_t now_ms, uint64_t floor, uint64_t *epoch_p, char *err,
                size_t err_size);

#endif
