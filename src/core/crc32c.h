/*  crc32c.h - CRC-32C (Castagnoli), as used by iSCSI, ext4 and Kafka records.

    crc32c_extend (0, buf, n) is the CRC of BUF; feeding the bytes in pieces,
    each call taking the previous result, gives the same value. The SSE4.2
    instruction is used when the CPU has it (checked at run time), a
    slicing-by-8 table otherwise; both give identical results.
*/
#ifndef CRC32C_H_INCLUDED
#define CRC32C_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  CRC-32C of SIZE bytes at DATA.
uint32_t crc32c (const void *data, size_t size);

//  CRC-32C of the bytes whose CRC is CRC, followed by SIZE bytes at DATA.
uint32_t crc32c_extend (uint32_t crc, const void *data, size_t size);

//  The portable table path, whatever the CPU (for tests and comparisons).
uint32_t crc32c_extend_sw (uint32_t crc, const void *data, size_t size);

//  True when crc32c_extend uses the CPU's crc32 instruction.
bool crc32c_hardware (void);

#endif
