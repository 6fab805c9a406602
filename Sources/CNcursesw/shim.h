#ifndef WEIGHTLAB_CNCURSESW_SHIM_H
#define WEIGHTLAB_CNCURSESW_SHIM_H
/*
 * The only C in weightlab: what Swift cannot import from ncursesw (function-like macros, macro constants
 * built from other macros) or what Swift 6 rejects (mutable C globals such as stdscr, LINES, COLORS, stdout).
 * Everything is `static inline` because CNcursesw is a system library target (no .c files). Nothing here keeps
 * state: a `static` variable in this header would be copied into every Swift file that uses it.
 */
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <langinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <fcntl.h>
#include <unistd.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#include <ncursesw/term.h>

/* ---- screens ---------------------------------------------------------------------------------------- */

/* newterm on the process's own stdin/stdout with $TERM; NULL when the terminal cannot be set up
   (unlike initscr, which prints and exits the process). */
static inline SCREEN *wl_newterm_stdio(void) { return newterm(NULL, stdout, stdin); }
static inline SCREEN *wl_set_term(SCREEN *screen) { return set_term(screen); }
static inline void wl_delscreen(SCREEN *screen) { delscreen(screen); }
static inline int wl_endwin(void) { return endwin(); }
static inline WINDOW *wl_stdscr(void) { return stdscr; }
static inline int wl_lines(void) { return LINES; }
static inline int wl_cols(void) { return COLS; }
static inline void wl_getmaxyx(WINDOW *win, int *y, int *x) {
    int yy = 0, xx = 0;
    getmaxyx(win, yy, xx);
    *y = yy;
    *x = xx;
}
static inline int wl_set_escdelay(int ms) { return set_escdelay(ms); }
static inline int wl_cbreak(void) { return cbreak(); }
static inline int wl_raw(void) { return raw(); }
static inline int wl_noecho(void) { return noecho(); }
static inline int wl_nonl(void) { return nonl(); }
static inline int wl_keypad(WINDOW *win, int on) { return keypad(win, on ? TRUE : FALSE); }
static inline int wl_nodelay(WINDOW *win, int on) { return nodelay(win, on ? TRUE : FALSE); }
static inline void wl_wtimeout(WINDOW *win, int ms) { wtimeout(win, ms); }
static inline int wl_curs_set(int visibility) { return curs_set(visibility); }
static inline int wl_werase(WINDOW *win) { return werase(win); }
static inline int wl_wnoutrefresh(WINDOW *win) { return wnoutrefresh(win); }
static inline int wl_doupdate(void) { return doupdate(); }
static inline int wl_clearok(WINDOW *win, int on) { return clearok(win, on ? TRUE : FALSE); }
static inline int wl_wget_wch(WINDOW *win, wint_t *out) { return wget_wch(win, out); }

/* A terminfo string capability copied into `buffer` (NUL-terminated); returns its length, 0 when the terminal
   has no such capability or it does not fit. */
static inline int wl_tigetstr_copy(const char *name, char *buffer, int capacity) {
    char *value = tigetstr(name);
    if (value == NULL || value == (char *)-1 || capacity <= 0) return 0;
    size_t n = strlen(value);
    if (n + 1 > (size_t)capacity) return 0;
    memcpy(buffer, value, n + 1);
    return (int)n;
}

/* ---- locale --------------------------------------------------------------------------------------- */

static inline int wl_setlocale_all_from_environment(void) { return setlocale(LC_ALL, "") != NULL; }
static inline int wl_setlocale_ctype(const char *name) { return setlocale(LC_CTYPE, name) != NULL; }
/* 1 when the current LC_CTYPE codeset is UTF-8. */
static inline int wl_locale_is_utf8(void) {
    const char *codeset = nl_langinfo(CODESET);
    return codeset != NULL && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

/* ---- colours and attributes ------------------------------------------------------------------------ */

static inline int wl_has_colors(void) { return has_colors(); }
static inline int wl_start_color(void) { return start_color(); }
static inline int wl_use_default_colors(void) { return use_default_colors(); }
static inline int wl_can_change_color(void) { return can_change_color(); }
static inline int wl_colors(void) { return COLORS; }
static inline int wl_color_pairs(void) { return COLOR_PAIRS; }

/* Defines colour pair `pair` (1-based); the extended call allows pair and colour numbers above 32767. */
static inline int wl_init_pair(int pair, int fg, int bg) {
#if defined(NCURSES_EXT_COLORS) && NCURSES_EXT_COLORS
    return init_extended_pair(pair, fg, bg);
#else
    if (pair > 32767 || fg > 32767 || bg > 32767) return ERR;
    return init_pair((short)pair, (short)fg, (short)bg);
#endif
}

/* Redefines palette colour `color`; r, g, b in 0...1000. */
static inline int wl_init_color(int color, int r, int g, int b) {
#if defined(NCURSES_EXT_COLORS) && NCURSES_EXT_COLORS
    return init_extended_color(color, r, g, b);
#else
    if (color > 32767) return ERR;
    return init_color((short)color, (short)r, (short)g, (short)b);
#endif
}

static inline attr_t wl_a_normal(void) { return A_NORMAL; }
static inline attr_t wl_a_bold(void) { return A_BOLD; }
static inline attr_t wl_a_underline(void) { return A_UNDERLINE; }
static inline attr_t wl_a_reverse(void) { return A_REVERSE; }
static inline attr_t wl_a_dim(void) { return A_DIM; }
static inline int wl_color_pair_attr(int pair) { return (int)COLOR_PAIR(pair); }

/* Draws one character cell at (y, x): `wch` is a NUL-terminated spacing character followed by at most
   CCHARW_MAX-1 combining characters. `cell` is caller-owned scratch storage. Returns OK or ERR. */
static inline int wl_mvadd_wch(WINDOW *win, int y, int x, cchar_t *cell, const wchar_t *wch, attr_t attrs, int pair) {
#if defined(NCURSES_EXT_COLORS) && NCURSES_EXT_COLORS
    int extended = pair;
    if (setcchar(cell, wch, attrs, (short)(pair > 32767 ? 0 : pair), &extended) == ERR) return ERR;
#else
    if (setcchar(cell, wch, attrs, (short)pair, NULL) == ERR) return ERR;
#endif
    return mvwadd_wch(win, y, x, cell);
}
static inline size_t wl_cchar_size(void) { return sizeof(cchar_t); }
static inline int wl_ccharw_max(void) { return CCHARW_MAX; }

/* ---- keys ------------------------------------------------------------------------------------------ */

static inline int wl_key_code_yes(void) { return KEY_CODE_YES; }
static inline int wl_key_up(void) { return KEY_UP; }
static inline int wl_key_down(void) { return KEY_DOWN; }
static inline int wl_key_left(void) { return KEY_LEFT; }
static inline int wl_key_right(void) { return KEY_RIGHT; }
static inline int wl_key_ppage(void) { return KEY_PPAGE; }
static inline int wl_key_npage(void) { return KEY_NPAGE; }
static inline int wl_key_home(void) { return KEY_HOME; }
static inline int wl_key_end(void) { return KEY_END; }
static inline int wl_key_enter(void) { return KEY_ENTER; }
static inline int wl_key_btab(void) { return KEY_BTAB; }
static inline int wl_key_backspace(void) { return KEY_BACKSPACE; }
static inline int wl_key_dc(void) { return KEY_DC; }
static inline int wl_key_resize(void) { return KEY_RESIZE; }
static inline int wl_key_mouse(void) { return KEY_MOUSE; }
static inline int wl_key_f(int n) { return KEY_F(n); }

/* ---- mouse ----------------------------------------------------------------------------------------- */

static inline mmask_t wl_all_mouse_events(void) { return ALL_MOUSE_EVENTS; }
static inline mmask_t wl_report_mouse_position(void) { return REPORT_MOUSE_POSITION; }
static inline mmask_t wl_button1_pressed(void) { return BUTTON1_PRESSED; }
static inline mmask_t wl_button1_released(void) { return BUTTON1_RELEASED; }
static inline mmask_t wl_button1_clicked(void) { return BUTTON1_CLICKED; }
static inline mmask_t wl_button4_pressed(void) { return BUTTON4_PRESSED; }
static inline mmask_t wl_button5_pressed(void) {
#ifdef BUTTON5_PRESSED
    return BUTTON5_PRESSED;
#else
    return 0;
#endif
}
static inline mmask_t wl_mousemask(mmask_t mask) { return mousemask(mask, NULL); }
static inline int wl_mouseinterval(int ms) { return mouseinterval(ms); }
/* Reads the pending mouse event: OK with its position and button state, or ERR. */
static inline int wl_getmouse(int *x, int *y, mmask_t *bstate) {
    MEVENT event;
    memset(&event, 0, sizeof event);
    if (getmouse(&event) != OK) return ERR;
    *x = event.x;
    *y = event.y;
    *bstate = event.bstate;
    return OK;
}

/* ---- signals --------------------------------------------------------------------------------------- */

/* Installs `handler` (SA_SIGINFO style, with SA_RESTART) for `sig`, blocking the other listed terminal
   signals while it runs; stores the previous action in `previous`. */
static inline int wl_install_signal_handler(int sig, void (*handler)(int, siginfo_t *, void *),
                                            struct sigaction *previous) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    action.sa_sigaction = handler;
    return sigaction(sig, &action, previous);
}
/* 1 when `action` is SIG_IGN (and not a SA_SIGINFO handler). */
static inline int wl_sigaction_is_ignore(const struct sigaction *action) {
    return !(action->sa_flags & SA_SIGINFO) && action->sa_handler == SIG_IGN;
}
/* 1 when `action` is SIG_DFL (and not a SA_SIGINFO handler). */
static inline int wl_sigaction_is_default(const struct sigaction *action) {
    return !(action->sa_flags & SA_SIGINFO) && action->sa_handler == SIG_DFL;
}
/* Sets `sig` to its default action. Async-signal-safe. */
static inline int wl_set_default_action(int sig) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_DFL;
    return sigaction(sig, &action, NULL);
}
/* Lock-free int atomics for the "terminal needs restoring" flag shared with signal handlers. */
static inline int wl_atomic_exchange_int(int *p, int value) { return __atomic_exchange_n(p, value, __ATOMIC_SEQ_CST); }
static inline int wl_atomic_load_int(int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void wl_atomic_store_int(int *p, int value) { __atomic_store_n(p, value, __ATOMIC_SEQ_CST); }
static inline size_t wl_sigaction_size(void) { return sizeof(struct sigaction); }
static inline int wl_siginfo_code(const siginfo_t *info) { return info ? info->si_code : 0; }

/* ---- pseudo-terminals (for tests that run a screen in a child process) ------------------------------ */

/* Not visible to Swift through the Glibc module (they need _XOPEN_SOURCE); compatible redeclarations. */
extern int posix_openpt(int flags);
extern int grantpt(int fd);
extern int unlockpt(int fd);
#ifdef __linux__
extern int ptsname_r(int fd, char *buf, size_t buflen);
#endif

/* Opens a new pseudo-terminal: returns the master fd (or -1) and writes the slave's path into `name`. */
static inline int wl_open_pseudo_terminal(char *name, int capacity) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) return -1;
#ifdef __linux__
    int named = ptsname_r(master, name, (size_t)capacity) == 0;
#else
    const char *slave = ptsname(master);
    int named = slave != NULL && strlen(slave) < (size_t)capacity;
    if (named) memcpy(name, slave, strlen(slave) + 1);
#endif
    if (grantpt(master) != 0 || unlockpt(master) != 0 || !named) {
        close(master);
        return -1;
    }
    return master;
}

#endif
