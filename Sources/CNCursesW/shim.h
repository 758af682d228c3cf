#ifndef SCUTTLEBOARD_CNCURSESW_SHIM_H
#define SCUTTLEBOARD_CNCURSESW_SHIM_H

/* Wide-character curses: cchar_t, setcchar, mvadd_wch. */
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <poll.h>

/* The standard screen, as a function: Swift cannot import the macro. */
static inline WINDOW *scuttleboard_stdscr(void) { return stdscr; }

/* The screen's size as curses knows it. */
static inline int scuttleboard_lines(void) { return LINES; }
static inline int scuttleboard_cols(void) { return COLS; }

/* The number of colours and colour pairs the terminal offers. */
static inline int scuttleboard_colors(void) { return COLORS; }
static inline int scuttleboard_color_pairs(void) { return COLOR_PAIRS; }

/* The terminal's size in cells, or 0 when stdout is not a terminal. */
static inline void scuttleboard_window_size(int fd, int *columns, int *rows) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) == 0) {
        *columns = size.ws_col;
        *rows = size.ws_row;
    } else {
        *columns = 0;
        *rows = 0;
    }
}

#endif
