/*  test_crc32c.c - CRC-32C: known vectors, hardware and table paths agree.
 */
#include "crc32c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test (crc32c, vectors)
{
    cr_assert_eq (crc32c ("123456789", 9), 0xE3069283u);
    cr_assert_eq (crc32c_extend_sw (0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    cr_assert_eq (crc32c (zeros, sizeof zeros), 0x8A9136AAu);
    cr_assert_eq (crc32c_extend_sw (0, zeros, sizeof zeros), 0x8A9136AAu);
    uint8_t ones[32];
    memset (ones, 0xFF, sizeof ones);
    cr_assert_eq (crc32c (ones, sizeof ones), 0x62A8AB43u); //  RFC 3720 B.4
    uint8_t rising[32];
    for (int i = 0; i < 32; i++)
        rising[i] = (uint8_t)i;
    cr_assert_eq (crc32c (rising, sizeof rising), 0x46DD794Eu);
    cr_assert_eq (crc32c ("", 0), 0u);
}

Test (crc32c, paths_agree)
{
    //  Every length 0..300 at every alignment 0..7, pieces and whole
    uint8_t *bytes = (uint8_t *)malloc (4096 + 8);
    cr_assert_not_null (bytes);
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < 4096 + 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes[i] = (uint8_t)x;
    }
    for (size_t align = 0; align < 8; align++)
        for (size_t size = 0; size <= 300; size++) {
            uint32_t sw = crc32c_extend_sw (0, bytes + align, size);
            cr_assert_eq (crc32c (bytes + align, size), sw, "size %zu align %zu", size, align);
            size_t half = size / 3;
            uint32_t pieces =
                crc32c_extend (crc32c (bytes + align, half), bytes + align + half, size - half);
            cr_assert_eq (pieces, sw, "pieces size %zu align %zu", size, align);
        }
    cr_assert_eq (crc32c (bytes, 4096), crc32c_extend_sw (0, bytes, 4096));
    free (bytes);
    cr_log_info ("crc32c hardware path: %s", crc32c_hardware () ? "yes" : "no");
}
