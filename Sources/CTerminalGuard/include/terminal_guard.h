#ifndef SCUTTLEBOARD_TERMINAL_GUARD_H
#define SCUTTLEBOARD_TERMINAL_GUARD_H

/* Giving the terminal back whatever happens to the process: signal handlers
 * must be async-signal-safe, which Swift code cannot promise, so they live
 * here, in C, and do nothing but write(2), tcsetattr(3), kill(2) and
 * sigaction(2). */

#include <stddef.h>
#include <sys/types.h>

/* Saves the modes of the terminal on `fd` (call before curses changes them)
 * and installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT and
 * SIGFPE that restore the terminal and then hand the signal on to whatever
 * handled it before (the Swift runtime's backtracer, or the default action),
 * so the crash report is printed on a working terminal. Returns 0, or -1
 * when `fd` is not a terminal. */
int scuttleboard_guard_arm(int fd);

/* The bytes that undo what the app turned on (mouse reporting, the alternate
 * screen, the hidden cursor); at most 255 are kept. */
void scuttleboard_guard_set_undo(const char *bytes, size_t length);

/* Restores the terminal now, once: writes the undo bytes and the saved
 * modes. Async-signal-safe; does nothing when not armed or already done. */
void scuttleboard_guard_restore(void);

/* Whether the terminal is still the app's: 0 once it has been restored
 * (by a crash handler, say), after which nothing may be drawn on it. */
int scuttleboard_guard_is_armed(void);

/* The terminal was given back normally: forget it and remove the crash
 * handlers (the previous ones are put back). */
void scuttleboard_guard_disarm(void);

/* Writes each SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH that arrives,
 * as one byte (the signal number), to `fd` (a non-blocking pipe), instead
 * of its default action. Returns 0 or -1. */
int scuttleboard_signals_to_pipe(int fd);

/* Puts back the handlers ``scuttleboard_signals_to_pipe`` replaced. */
void scuttleboard_signals_restore(void);

/* In a parent that waits for `child`: passes SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT on to it instead of acting on them. */
int scuttleboard_forward_signals(pid_t child);

/* A pipe whose ends close on exec, non-blocking when asked: fds[0] reads,
 * fds[1] writes. Returns 0 or -1. */
int scuttleboard_pipe(int fds[2], int nonblocking);

#endif
