/*  log.h - one line per event on stderr: UTC timestamp, level, role, text.
 */
#ifndef LOG_H_INCLUDED
#define LOG_H_INCLUDED

#include <stdbool.h>

void log_set_verbose (bool verbose);
void log_set_ident (const char *ident);
bool log_verbose (void);

void log_debug (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_warn (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
void log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  TEXT at LEVEL: 0 info, 1 warning, 2 error, the order every pure module's
//  own level enum keeps (peers, follower, election), so their event
//  callbacks log through this one function.
void log_at (int level, const char *text);

#endif
