/*  test_library.c - librlog means one thing: the static and the shared
    library hold the same code and export the same symbols, all of them
    rlog_* (the codec, the session and czmq stay inside).
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#ifndef RLOG_BUILD_DIR
#error "RLOG_BUILD_DIR must name the build directory"
#endif

#define SYMBOLS_MAX 128

//  The defined, global function and data symbols of FILE, sorted.
static size_t s_exports (const char *file, char names[][64], size_t max)
{
    char cmd[512];
    snprintf (cmd, sizeof cmd,
              "nm -g --defined-only %s %s 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}'"
              " | sort -u",
              strstr (file, ".so") ? "-D" : "", file);
    FILE *pipe = popen (cmd, "r");
    cr_assert (pipe, "cannot run nm");
    size_t n = 0;
    char line[256];
    while (fgets (line, sizeof line, pipe) && n < max) {
        line[strcspn (line, "\n")] = 0;
        snprintf (names[n++], 64, "%.63s", line);
    }
    cr_assert_eq (pclose (pipe), 0, "nm failed on %s", file);
    return n;
}

Test (library, static_and_shared_export_the_same_rlog_symbols)
{
    static char a[SYMBOLS_MAX][64], so[SYMBOLS_MAX][64];
    size_t na = s_exports (RLOG_BUILD_DIR "/librlog.a", a, SYMBOLS_MAX);
    size_t nso = s_exports (RLOG_BUILD_DIR "/librlog.so", so, SYMBOLS_MAX);
    cr_assert_gt (na, 20, "librlog.a exports %zu symbols", na);
    cr_assert_eq (na, nso, "librlog.a exports %zu symbols, librlog.so %zu", na, nso);
    for (size_t i = 0; i < na; i++) {
        cr_assert (strncmp (a[i], "rlog_", 5) == 0, "librlog.a exports %s", a[i]);
        cr_assert_str_eq (a[i], so[i]);
    }
}
