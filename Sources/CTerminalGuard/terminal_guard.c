#define _GNU_SOURCE
#include "terminal_guard.h"

#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static struct termios saved_modes;
static int terminal_fd = -1;
static volatile sig_atomic_t armed = 0;
static char undo_bytes[256];
static size_t undo_length = 0;
static struct sigaction previous_crash[COUNT(crash_signals)];

static int signal_pipe = -1;
static struct sigaction previous_stop[COUNT(stop_signals)];
static int stop_signals_installed = 0;

static volatile pid_t forward_child = 0;

static void write_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            return;
        }
        bytes += written;
        length -= (size_t)written;
    }
}

void scuttleboard_guard_restore(void) {
    if (!__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST)) return;
    int saved_errno = errno;
    write_all(terminal_fd, undo_bytes, undo_length);
    tcsetattr(terminal_fd, TCSANOW, &saved_modes);
    errno = saved_errno;
}

static int crash_index(int signal_number) {
    for (size_t index = 0; index < COUNT(crash_signals); index++) {
        if (crash_signals[index] == signal_number) return (int)index;
    }
    return -1;
}

static void on_crash(int signal_number, siginfo_t *info, void *context) {
    scuttleboard_guard_restore();
    int index = crash_index(signal_number);
    if (index < 0) return;
    struct sigaction previous = previous_crash[index];
    sigaction(signal_number, &previous, NULL);
    int is_fault = info != NULL && info->si_code > 0 && signal_number != SIGABRT && signal_number != SIGTRAP;
    if (is_fault) {
        /* Returning runs the faulting instruction again: the previous
         * handler (the Swift runtime's crash report) sees the real context,
         * and the fault, raised once more, ends the process. */
        return;
    }
    /* Sent by a process (kill, abort): nothing would fault again. Deliver
     * it once more, now, to the previous handler (which may return, as the
     * Swift runtime's does for a sent signal), then die of the default action. */
    (void)context;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, signal_number);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    raise(signal_number);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
    _exit(128 + signal_number);
}

int scuttleboard_guard_arm(int fd) {
    struct termios modes;
    if (tcgetattr(fd, &modes) != 0) return -1;
    saved_modes = modes;
    terminal_fd = fd;
    static const char default_undo[] = "\033[?1003l\033[?1006l\033[?1000l\033[0m\033[?25h\033[?1049l";
    if (undo_length == 0) scuttleboard_guard_set_undo(default_undo, sizeof(default_undo) - 1);
    armed = 1;
    for (size_t index = 0; index < COUNT(crash_signals); index++) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = on_crash;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(crash_signals[index], &action, &previous_crash[index]);
    }
    return 0;
}

int scuttleboard_guard_is_armed(void) { return armed; }

void scuttleboard_guard_set_undo(const char *bytes, size_t length) {
    if (length > sizeof(undo_bytes) - 1) length = sizeof(undo_bytes) - 1;
    memcpy(undo_bytes, bytes, length);
    undo_length = length;
}

void scuttleboard_guard_disarm(void) {
    if (!__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST)) return;
    for (size_t index = 0; index < COUNT(crash_signals); index++) {
        sigaction(crash_signals[index], &previous_crash[index], NULL);
    }
}

static void on_stop_signal(int signal_number) {
    int saved_errno = errno;
    unsigned char byte = (unsigned char)signal_number;
    int pipe_fd = __atomic_load_n(&signal_pipe, __ATOMIC_ACQUIRE);
    if (pipe_fd >= 0) (void)write(pipe_fd, &byte, 1);
    errno = saved_errno;
}

/* Installs `handler` for each of `count` signals, keeping the previous
 * actions in `previous` when it is not NULL. Returns 0 or -1. */
static int install(const int *signals, size_t count, void (*handler)(int), struct sigaction *previous) {
    for (size_t index = 0; index < count; index++) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_handler = handler;
        action.sa_flags = SA_RESTART;
        sigemptyset(&action.sa_mask);
        if (sigaction(signals[index], &action, previous ? &previous[index] : NULL) != 0) return -1;
    }
    return 0;
}

int scuttleboard_signals_to_pipe(int fd) {
    __atomic_store_n(&signal_pipe, fd, __ATOMIC_RELEASE);
    if (install(stop_signals, COUNT(stop_signals), on_stop_signal, previous_stop) != 0) return -1;
    stop_signals_installed = 1;
    return 0;
}

void scuttleboard_signals_restore(void) {
    if (!stop_signals_installed) return;
    stop_signals_installed = 0;
    /* A handler running now on another thread must not write to a pipe
     * its owner is about to close: it reads the descriptor atomically. */
    __atomic_store_n(&signal_pipe, -1, __ATOMIC_RELEASE);
    for (size_t index = 0; index < COUNT(stop_signals); index++) {
        sigaction(stop_signals[index], &previous_stop[index], NULL);
    }
}

static void on_forwarded_signal(int signal_number) {
    int saved_errno = errno;
    if (forward_child > 0) kill(forward_child, signal_number);
    errno = saved_errno;
}

int scuttleboard_forward_signals(pid_t child) {
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    forward_child = child;
    return install(forwarded, COUNT(forwarded), on_forwarded_signal, NULL);
}

int scuttleboard_pipe(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
}
