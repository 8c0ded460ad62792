/*  quiet.h - the end of a program that czmq started signal handling for:
    from now on SIGINT/SIGTERM are ignored, with no moment in between under
    their default action (death), which czmq's reset puts back: both stay
    blocked in this thread meanwhile, and libzmq's threads block every
    signal, so one that comes then waits and is discarded by SIG_IGN.
    Header-only: rlogd and logcli share it without sharing a library.
*/
#ifndef QUIET_H_INCLUDED
#define QUIET_H_INCLUDED

#include <czmq.h>
#include <pthread.h>
#include <signal.h>

static inline void quiet_interrupts (void)
{
    sigset_t both, old;
    sigemptyset (&both);
    sigaddset (&both, SIGINT);
    sigaddset (&both, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &both, &old);
    zsys_handler_set (NULL);
    signal (SIGINT, SIG_IGN);
    signal (SIGTERM, SIG_IGN);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
}

#endif
