/*
 * ftpload: the load generator and transfer client of bench/run.sh.
 *
 * One small C program so that the client side costs little and the same for
 * every target (direct, ftpproxy, ProFTPD). Every mode prints one JSON object
 * per result line on stdout; errors go to stderr.
 *
 *   xfer     one login, then RETR (recv, discarded) or STOR (sendfile) of a
 *            file over EPSV or PORT. The client sends the command itself and
 *            fails unless the reply is 229 (EPSV) or 200 (PORT): no silent
 *            fallback to another mode.
 *   sessions C concurrent clients, closed loop, each session: connect,
 *            USER/PASS, SIZE, EPSV, RETR of a small file, QUIT. One thread,
 *            epoll. Reports sessions per second and latency percentiles of
 *            the sessions that ended inside the measuring window.
 *   idle     opens N logged-in sessions (at most P logins in flight), reports,
 *            then on stdin "noop" sends NOOP on every session and counts the
 *            200 replies; on "quit" closes them all and exits.
 *   noop     one session, NOOP round trips timed one by one.
 *
 * IPv4 only (the benchmark runs on 127.0.0.0/8).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ util */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ftpload: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double cpu_self_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* percentile (nearest rank) of a sorted array */
static uint64_t pct(const uint64_t *v, size_t n, double p) {
    if (n == 0) return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

/* --------------------------------------------------------------- options */

struct opts {
    const char *host;
    int port;
    const char *user;
    const char *pass;
    const char *op;     /* xfer: retr|stor */
    const char *mode;   /* xfer: epsv|port */
    const char *remote; /* remote file name */
    const char *local;  /* stor: local file */
    long long size;     /* sessions: expected size of the small file */
    int conc;           /* sessions: clients; idle: logins in flight */
    int count;          /* idle: sessions; noop: round trips */
    double duration;    /* sessions: measuring window, s */
    double warmup;      /* sessions: not counted, s */
    double timeout;     /* per session / per step, s */
};

static struct sockaddr_in server_addr(const struct opts *o) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) die("bad IPv4 address %s", o->host);
    return sa;
}

/* ------------------------------------------------------- reply parsing */

/* Looks for one complete reply at the start of buf. Returns 1 and sets
 * *consumed and *code when found, 0 when more bytes are needed, -1 when the
 * text is not an FTP reply. */
static int parse_reply(const char *buf, size_t len, size_t *consumed, int *code) {
    size_t pos = 0;
    int first = -1;
    int multi = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) return 0;
        size_t line_len = (size_t)(nl - (buf + pos)) + 1;
        const char *l = buf + pos;
        int is_code_line = line_len >= 4 && l[0] >= '0' && l[0] <= '9' && l[1] >= '0' &&
                           l[1] <= '9' && l[2] >= '0' && l[2] <= '9';
        int c = is_code_line ? (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') : -1;
        pos += line_len;
        if (first < 0) {
            if (!is_code_line) return -1;
            first = c;
            if (l[3] == '-') {
                multi = 1;
                continue;
            }
            *consumed = pos;
            *code = c;
            return 1;
        }
        if (multi && c == first && l[3] == ' ') {
            *consumed = pos;
            *code = c;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------ blocking control conn */

struct bconn {
    int fd;
    char buf[16384];
    size_t len;
    char last[512]; /* text of the last reply (first line) */
};

static void set_timeouts(int fd, double seconds) {
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int b_reply(struct bconn *c) {
    for (;;) {
        size_t used;
        int code;
        int r = parse_reply(c->buf, c->len, &used, &code);
        if (r < 0) die("not an FTP reply: %.*s", (int)(c->len > 200 ? 200 : c->len), c->buf);
        if (r > 0) {
            size_t first_len = strcspn(c->buf, "\r\n");
            if (first_len >= sizeof c->last) first_len = sizeof c->last - 1;
            memcpy(c->last, c->buf, first_len);
            c->last[first_len] = 0;
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return code;
        }
        if (c->len == sizeof c->buf) die("reply too long");
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n == 0) die("control connection closed by the server");
        if (n < 0) die("control read: %s", strerror(errno));
        c->len += (size_t)n;
    }
}

static void b_send(struct bconn *c, const char *fmt, ...) {
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    memcpy(line + n, "\r\n", 2);
    if (write(c->fd, line, (size_t)n + 2) != n + 2) die("control write: %s", strerror(errno));
}

static int b_cmd(struct bconn *c, const char *fmt, ...) {
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    b_send(c, "%s", line);
    return b_reply(c);
}

static void b_open_login(struct bconn *c, const struct opts *o) {
    struct sockaddr_in sa = server_addr(o);
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    set_timeouts(c->fd, o->timeout);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect %s:%d: %s", o->host, o->port, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int code = b_reply(c);
    if (code != 220) die("greeting: %s", c->last);
    code = b_cmd(c, "USER %s", o->user);
    if (code == 331) code = b_cmd(c, "PASS %s", o->pass);
    if (code != 230) die("login: %s", c->last);
}

/* -------------------------------------------------------------- xfer */

static int mode_xfer(const struct opts *o) {
    struct bconn c;
    int is_retr = strcmp(o->op, "retr") == 0;
    int is_epsv = strcmp(o->mode, "epsv") == 0;
    if (!is_retr && strcmp(o->op, "stor") != 0) die("-o retr|stor");
    if (!is_epsv && strcmp(o->mode, "port") != 0) die("-m epsv|port");
    b_open_login(&c, o);
    if (b_cmd(&c, "TYPE I") != 200) die("TYPE I: %s", c.last);

    long long expect = -1;
    int filefd = -1;
    if (is_retr) {
        if (b_cmd(&c, "SIZE %s", o->remote) != 213) die("SIZE: %s", c.last);
        expect = atoll(c.last + 4);
    } else {
        if (!o->local) die("stor needs -l LOCALFILE");
        filefd = open(o->local, O_RDONLY | O_CLOEXEC);
        if (filefd < 0) die("open %s: %s", o->local, strerror(errno));
        struct stat st;
        fstat(filefd, &st);
        expect = st.st_size;
    }

    char mode_reply[512];
    int datafd = -1, listenfd = -1;
    if (is_epsv) {
        if (b_cmd(&c, "EPSV") != 229) die("EPSV refused: %s", c.last);
        snprintf(mode_reply, sizeof mode_reply, "%s", c.last);
        const char *p = strstr(c.last, "(|||");
        if (!p) die("EPSV reply without (|||port|): %s", c.last);
        int port = atoi(p + 4);
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        getpeername(c.fd, (struct sockaddr *)&peer, &pl);
        peer.sin_port = htons((uint16_t)port);
        datafd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        set_timeouts(datafd, o->timeout);
        if (connect(datafd, (struct sockaddr *)&peer, sizeof peer) != 0)
            die("data connect to port %d: %s", port, strerror(errno));
    } else {
        struct sockaddr_in local;
        socklen_t ll = sizeof local;
        getsockname(c.fd, (struct sockaddr *)&local, &ll);
        local.sin_port = 0;
        listenfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bind(listenfd, (struct sockaddr *)&local, sizeof local) != 0 || listen(listenfd, 1) != 0)
            die("data listen: %s", strerror(errno));
        ll = sizeof local;
        getsockname(listenfd, (struct sockaddr *)&local, &ll);
        unsigned char *a = (unsigned char *)&local.sin_addr;
        unsigned port = ntohs(local.sin_port);
        if (b_cmd(&c, "PORT %u,%u,%u,%u,%u,%u", a[0], a[1], a[2], a[3], port >> 8, port & 255) != 200)
            die("PORT refused: %s", c.last);
        snprintf(mode_reply, sizeof mode_reply, "%s", c.last);
    }

    double t0 = now_s();
    b_send(&c, "%s %s", is_retr ? "RETR" : "STOR", o->remote);
    if (!is_epsv) {
        /* the server's 150 may come before its data connection: wait for
         * the connection only, the reply stays in the socket meanwhile */
        struct pollfd pfd = {listenfd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(o->timeout * 1000));
        if (r <= 0) {
            int code = b_reply(&c);
            die("no data connection after %s (reply %d: %s)", is_retr ? "RETR" : "STOR", code, c.last);
        }
        datafd = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC);
        if (datafd < 0) die("accept: %s", strerror(errno));
        set_timeouts(datafd, o->timeout);
        close(listenfd);
    }
    int code = b_reply(&c);
    if (code != 150 && code != 125) die("%s: %s", is_retr ? "RETR" : "STOR", c.last);

    long long bytes = 0;
    if (is_retr) {
        size_t bufsize = 1 << 20;
        char *buf = malloc(bufsize);
        for (;;) {
            ssize_t n = read(datafd, buf, bufsize);
            if (n == 0) break;
            if (n < 0) die("data read: %s", strerror(errno));
            bytes += n;
        }
        free(buf);
    } else {
        off_t off = 0;
        while (off < expect) {
            ssize_t n = sendfile(datafd, filefd, &off, (size_t)(expect - off));
            if (n <= 0) die("sendfile: %s", n < 0 ? strerror(errno) : "short");
        }
        bytes = off;
        shutdown(datafd, SHUT_WR);
    }
    close(datafd);
    code = b_reply(&c);
    double t1 = now_s();
    if (code != 226 && code != 250) die("after transfer: %s", c.last);
    if (bytes != expect) die("transferred %lld bytes, expected %lld", bytes, expect);
    char final_reply[512];
    snprintf(final_reply, sizeof final_reply, "%s", c.last);
    b_cmd(&c, "QUIT");
    close(c.fd);
    if (filefd >= 0) close(filefd);
    /* JSON strings: the replies hold no quotes or backslashes in practice;
     * strip them anyway. */
    for (char *p = mode_reply; *p; p++)
        if (*p == '"' || *p == '\\') *p = '\'';
    for (char *p = final_reply; *p; p++)
        if (*p == '"' || *p == '\\') *p = '\'';
    printf("{\"op\":\"%s\",\"mode\":\"%s\",\"bytes\":%lld,\"seconds\":%.6f,\"mode_reply\":\"%s\","
           "\"final_reply\":\"%s\",\"client_cpu\":%.4f}\n",
           o->op, o->mode, bytes, t1 - t0, mode_reply, final_reply, cpu_self_s());
    return 0;
}

/* -------------------------------------------------------------- noop */

static int mode_noop(const struct opts *o) {
    struct bconn c;
    b_open_login(&c, o);
    int warm = o->count / 10 + 10;
    for (int i = 0; i < warm; i++)
        if (b_cmd(&c, "NOOP") != 200) die("NOOP: %s", c.last);
    uint64_t *v = calloc((size_t)o->count, sizeof *v);
    double cpu0 = cpu_self_s(), t0 = now_s();
    for (int i = 0; i < o->count; i++) {
        uint64_t a = now_ns();
        b_send(&c, "NOOP");
        if (b_reply(&c) != 200) die("NOOP: %s", c.last);
        v[i] = now_ns() - a;
    }
    double t1 = now_s(), cpu1 = cpu_self_s();
    b_cmd(&c, "QUIT");
    close(c.fd);
    qsort(v, (size_t)o->count, sizeof *v, cmp_u64);
    double sum = 0;
    for (int i = 0; i < o->count; i++) sum += (double)v[i];
    printf("{\"count\":%d,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f,"
           "\"mean_us\":%.2f,\"seconds\":%.4f,\"client_cpu\":%.4f}\n",
           o->count, pct(v, (size_t)o->count, 50) / 1e3, pct(v, (size_t)o->count, 90) / 1e3,
           pct(v, (size_t)o->count, 99) / 1e3, v[0] / 1e3, sum / o->count / 1e3, t1 - t0,
           cpu1 - cpu0);
    free(v);
    return 0;
}

/* ------------------------------------------------- epoll session machine */

enum state {
    S_FREE,     /* not running */
    S_WAIT,     /* waiting to (re)start */
    S_CONNECT,  /* control connect in progress */
    S_GREET,
    S_USER,
    S_PASS,
    S_SIZE,
    S_EPSV,
    S_RETR,     /* RETR sent, waiting for 150 */
    S_XFER,     /* waiting for data EOF and 226 */
    S_QUIT,
    S_IDLE,     /* idle mode: logged in */
    S_NOOP,     /* idle mode: NOOP sent */
    S_NOOP_OK,  /* idle mode: NOOP answered */
    S_DEAD,     /* idle mode: failed */
};

static const char *state_name[] = {"free", "wait", "connect", "greeting", "user", "pass", "size",
                                   "epsv", "retr", "xfer", "quit", "idle", "noop", "noop-ok",
                                   "dead"};

struct client {
    enum state st;
    int ctl, data;
    char in[2048];
    size_t in_len;
    uint64_t t_start;
    double deadline; /* of the current session/step; or restart time in S_WAIT */
    long long data_bytes;
    int got_226, data_eof;
};

static int g_ep;
static struct client *g_cl;
static int g_ncl;
static const struct opts *g_o;
static struct sockaddr_in g_sa;
static int g_idle_mode;

/* statistics */
static long long g_errors;
static long long g_err_state[S_DEAD + 1];
static char g_last_error[256];

static void ep_add(int fd, uint32_t events, uint64_t tag) {
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl add: %s", strerror(errno));
}

static void ep_mod(int fd, uint32_t events, uint64_t tag) {
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
}

static void close_fds(struct client *c) {
    if (c->ctl >= 0) close(c->ctl); /* close() removes it from epoll */
    if (c->data >= 0) close(c->data);
    c->ctl = c->data = -1;
    c->in_len = 0;
}

static void fail(struct client *c, const char *why) {
    g_errors++;
    g_err_state[c->st]++;
    snprintf(g_last_error, sizeof g_last_error, "%s in state %s", why, state_name[c->st]);
    close_fds(c);
    if (g_idle_mode) {
        c->st = S_DEAD;
    } else {
        c->st = S_WAIT;
        c->deadline = now_s() + 0.01; /* back off a little before retrying */
    }
}

static int send_line(struct client *c, const char *line) {
    size_t n = strlen(line);
    ssize_t w = send(c->ctl, line, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n) {
        fail(c, "control write failed");
        return -1;
    }
    return 0;
}

static void start_session(struct client *c) {
    int i = (int)(c - g_cl);
    c->ctl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->ctl < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->ctl, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->data = -1;
    c->in_len = 0;
    c->data_bytes = 0;
    c->got_226 = c->data_eof = 0;
    c->t_start = now_ns();
    c->deadline = now_s() + g_o->timeout;
    c->st = S_CONNECT;
    int r = connect(c->ctl, (struct sockaddr *)&g_sa, sizeof g_sa);
    if (r != 0 && errno != EINPROGRESS) {
        fail(c, "connect failed");
        return;
    }
    ep_add(c->ctl, EPOLLOUT, (uint64_t)i * 2);
}

/* session results (sessions mode) */
static uint64_t *g_lat;
static size_t g_nlat, g_cap_lat;
static long long g_done_total;
static double g_win_start, g_win_end;
static int g_running = 1;

static void session_done(struct client *c) {
    double t = now_s();
    uint64_t lat = now_ns() - c->t_start;
    close_fds(c);
    g_done_total++;
    if (t >= g_win_start && t < g_win_end) {
        if (g_nlat == g_cap_lat) {
            g_cap_lat = g_cap_lat ? g_cap_lat * 2 : 65536;
            g_lat = realloc(g_lat, g_cap_lat * sizeof *g_lat);
        }
        g_lat[g_nlat++] = lat;
    }
    c->st = S_FREE;
    if (g_running) start_session(c);
}

static void open_data(struct client *c, const char *reply) {
    const char *p = strstr(reply, "(|||");
    if (!p) {
        fail(c, "EPSV reply without port");
        return;
    }
    struct sockaddr_in peer = g_sa;
    peer.sin_port = htons((uint16_t)atoi(p + 4));
    c->data = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->data < 0) die("socket: %s", strerror(errno));
    int r = connect(c->data, (struct sockaddr *)&peer, sizeof peer);
    if (r != 0 && errno != EINPROGRESS) {
        fail(c, "data connect failed");
        return;
    }
    ep_add(c->data, EPOLLIN | EPOLLRDHUP, (uint64_t)(c - g_cl) * 2 + 1);
}

static void maybe_finish_transfer(struct client *c) {
    if (c->got_226 && c->data_eof) {
        if (c->data_bytes != g_o->size) {
            fail(c, "wrong data size");
            return;
        }
        c->st = S_QUIT;
        send_line(c, "QUIT\r\n");
    }
}

static void on_reply(struct client *c, int code, const char *text) {
    char line[1100];
    switch (c->st) {
        case S_GREET:
            if (code != 220) return fail(c, "bad greeting");
            snprintf(line, sizeof line, "USER %s\r\n", g_o->user);
            c->st = S_USER;
            send_line(c, line);
            return;
        case S_USER:
            if (code == 230) goto logged_in;
            if (code != 331) return fail(c, "USER refused");
            snprintf(line, sizeof line, "PASS %s\r\n", g_o->pass);
            c->st = S_PASS;
            send_line(c, line);
            return;
        case S_PASS:
            if (code != 230) return fail(c, "PASS refused");
        logged_in:
            if (g_idle_mode) {
                c->st = S_IDLE;
                return;
            }
            snprintf(line, sizeof line, "SIZE %s\r\n", g_o->remote);
            c->st = S_SIZE;
            send_line(c, line);
            return;
        case S_SIZE:
            if (code != 213 || atoll(text + 4) != g_o->size) return fail(c, "bad SIZE reply");
            c->st = S_EPSV;
            send_line(c, "EPSV\r\n");
            return;
        case S_EPSV:
            if (code != 229) return fail(c, "EPSV refused");
            open_data(c, text);
            if (c->st != S_EPSV) return;
            snprintf(line, sizeof line, "RETR %s\r\n", g_o->remote);
            c->st = S_RETR;
            send_line(c, line);
            return;
        case S_RETR:
            if (code != 150 && code != 125) return fail(c, "RETR refused");
            c->st = S_XFER;
            return;
        case S_XFER:
            if (code != 226 && code != 250) return fail(c, "transfer failed");
            c->got_226 = 1;
            maybe_finish_transfer(c);
            return;
        case S_QUIT:
            if (code != 221) return fail(c, "QUIT refused");
            session_done(c);
            return;
        case S_NOOP:
            if (code != 200) return fail(c, "NOOP refused");
            c->st = S_NOOP_OK;
            return;
        default:
            return fail(c, "unexpected reply");
    }
}

static void on_ctl(struct client *c, uint32_t events) {
    if (c->st == S_CONNECT) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->ctl, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (events & (EPOLLERR | EPOLLHUP))) return fail(c, "connect refused");
        c->st = S_GREET;
        ep_mod(c->ctl, EPOLLIN, (uint64_t)(c - g_cl) * 2);
        return;
    }
    for (;;) {
        if (c->in_len == sizeof c->in) return fail(c, "reply too long");
        ssize_t n = recv(c->ctl, c->in + c->in_len, sizeof c->in - c->in_len, 0);
        if (n == 0) return fail(c, "control closed by the server");
        if (n < 0) {
            if (errno == EAGAIN) return;
            return fail(c, "control read error");
        }
        c->in_len += (size_t)n;
        for (;;) {
            size_t used;
            int code;
            int r = parse_reply(c->in, c->in_len, &used, &code);
            if (r < 0) return fail(c, "not an FTP reply");
            if (r == 0) break;
            char text[512];
            size_t tl = used < sizeof text - 1 ? used : sizeof text - 1;
            memcpy(text, c->in, tl);
            text[tl] = 0;
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            enum state before = c->st;
            on_reply(c, code, text);
            if (c->ctl < 0 || c->st == S_FREE || before == S_QUIT) return;
        }
        if ((size_t)n < sizeof c->in) return; /* probably drained */
    }
}

static void on_data(struct client *c, uint32_t events) {
    static char sink[65536];
    for (;;) {
        ssize_t n = recv(c->data, sink, sizeof sink, 0);
        if (n > 0) {
            c->data_bytes += n;
            continue;
        }
        if (n == 0) {
            close(c->data);
            c->data = -1;
            c->data_eof = 1;
            if (c->st == S_XFER) maybe_finish_transfer(c);
            /* EOF before 150 (a fast server): the 150/226 handlers see data_eof */
            return;
        }
        if (errno == EAGAIN) {
            if (events & (EPOLLERR | EPOLLHUP)) return fail(c, "data connection error");
            return;
        }
        return fail(c, "data connection error");
    }
}

/* Checks deadlines; starts clients in S_WAIT whose time has come. */
static void scan(double t) {
    for (int i = 0; i < g_ncl; i++) {
        struct client *c = &g_cl[i];
        if (c->st == S_WAIT) {
            if (g_running && t >= c->deadline) start_session(c);
        } else if (c->st != S_FREE && c->st != S_IDLE && c->st != S_DEAD && c->st != S_NOOP_OK &&
                   t > c->deadline) {
            fail(c, "timeout");
        }
    }
}

static void dispatch(struct epoll_event *ev) {
    int i = (int)(ev->data.u64 / 2);
    struct client *c = &g_cl[i];
    if (ev->data.u64 & 1) {
        if (c->data >= 0) on_data(c, ev->events);
    } else if (c->ctl >= 0) {
        on_ctl(c, ev->events);
    }
}

static int in_flight(void) {
    int n = 0;
    for (int i = 0; i < g_ncl; i++)
        if (g_cl[i].st != S_FREE && g_cl[i].st != S_WAIT && g_cl[i].st != S_IDLE &&
            g_cl[i].st != S_DEAD && g_cl[i].st != S_NOOP_OK)
            n++;
    return n;
}

static void setup_clients(const struct opts *o, int n) {
    g_o = o;
    g_sa = server_addr(o);
    g_ncl = n;
    g_cl = calloc((size_t)n, sizeof *g_cl);
    for (int i = 0; i < n; i++) {
        g_cl[i].st = S_FREE;
        g_cl[i].ctl = g_cl[i].data = -1;
    }
    g_ep = epoll_create1(EPOLL_CLOEXEC);
}

static int mode_sessions(const struct opts *o) {
    setup_clients(o, o->conc);
    double t0 = now_s();
    double cpu0 = cpu_self_s();
    g_win_start = t0 + o->warmup;
    g_win_end = g_win_start + o->duration;
    for (int i = 0; i < g_ncl; i++) start_session(&g_cl[i]);
    struct epoll_event evs[512];
    double last_scan = t0;
    double cpu_win0 = -1, cpu_win1 = -1;
    for (;;) {
        int n = epoll_wait(g_ep, evs, 512, 10);
        for (int k = 0; k < n; k++) dispatch(&evs[k]);
        double t = now_s();
        if (cpu_win0 < 0 && t >= g_win_start) cpu_win0 = cpu_self_s();
        if (g_running && t >= g_win_end) {
            g_running = 0;
            cpu_win1 = cpu_self_s();
        }
        if (t - last_scan >= 0.01) {
            scan(t);
            last_scan = t;
        }
        if (!g_running) {
            if (in_flight() == 0) break;
            if (t > g_win_end + o->timeout + 1) break;
        }
    }
    int left = in_flight();
    double t_end = now_s();
    qsort(g_lat, g_nlat, sizeof *g_lat, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < g_nlat; i++) sum += (double)g_lat[i];
    printf("{\"conc\":%d,\"window_s\":%.3f,\"sessions\":%zu,\"rate\":%.2f,\"p50_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,\"errors\":%lld,"
           "\"done_total\":%lld,\"left_in_flight\":%d,\"last_error\":\"%s\",\"client_cpu_window\":%.4f,"
           "\"client_cpu_total\":%.4f,\"wall_total\":%.3f,\"errors_by_state\":{",
           o->conc, o->duration, g_nlat, (double)g_nlat / o->duration, pct(g_lat, g_nlat, 50) / 1e6,
           pct(g_lat, g_nlat, 90) / 1e6, pct(g_lat, g_nlat, 99) / 1e6,
           g_nlat ? g_lat[g_nlat - 1] / 1e6 : 0.0, g_nlat ? sum / (double)g_nlat / 1e6 : 0.0,
           g_errors, g_done_total, left, g_last_error, cpu_win1 - cpu_win0, cpu_self_s() - cpu0, t_end - t0);
    int first = 1;
    for (int s = 0; s <= S_DEAD; s++)
        if (g_err_state[s]) {
            printf("%s\"%s\":%lld", first ? "" : ",", state_name[s], g_err_state[s]);
            first = 0;
        }
    printf("}}\n");
    return 0;
}

/* -------------------------------------------------------------- idle */

static int count_state(enum state s) {
    int n = 0;
    for (int i = 0; i < g_ncl; i++) n += g_cl[i].st == s;
    return n;
}

static int mode_idle(const struct opts *o) {
    g_idle_mode = 1;
    setup_clients(o, o->count);
    ep_add(0, EPOLLIN, UINT64_MAX);
    struct epoll_event evs[512];
    double t0 = now_s();
    int next = 0;
    int phase = 0; /* 0 opening, 1 idle, 2 noop */
    double phase_start = t0;
    double last_scan = t0;
    char cmd[64];
    size_t cmd_len = 0;
    for (;;) {
        if (phase == 0) {
            int busy = in_flight();
            while (next < g_ncl && busy < o->conc) {
                start_session(&g_cl[next++]);
                busy++;
            }
            if (next == g_ncl && in_flight() == 0) {
                printf("{\"event\":\"ready\",\"ok\":%d,\"failed\":%d,\"seconds\":%.3f,"
                       "\"last_error\":\"%s\"}\n",
                       count_state(S_IDLE), count_state(S_DEAD), now_s() - t0, g_last_error);
                fflush(stdout);
                phase = 1;
            }
        } else if (phase == 2 && count_state(S_NOOP) == 0) {
            printf("{\"event\":\"noop\",\"ok\":%d,\"failed\":%d,\"seconds\":%.3f,"
                   "\"last_error\":\"%s\"}\n",
                   count_state(S_NOOP_OK), count_state(S_DEAD), now_s() - phase_start,
                   g_last_error);
            fflush(stdout);
            for (int i = 0; i < g_ncl; i++)
                if (g_cl[i].st == S_NOOP_OK) g_cl[i].st = S_IDLE;
            phase = 1;
        }
        int n = epoll_wait(g_ep, evs, 512, 50);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u64 == UINT64_MAX) {
                ssize_t r = read(0, cmd + cmd_len, sizeof cmd - 1 - cmd_len);
                if (r <= 0) goto quit;
                cmd_len += (size_t)r;
                cmd[cmd_len] = 0;
                char *nl;
                while ((nl = strchr(cmd, '\n'))) {
                    *nl = 0;
                    if (strcmp(cmd, "noop") == 0 && phase == 1) {
                        phase = 2;
                        phase_start = now_s();
                        for (int i = 0; i < g_ncl; i++)
                            if (g_cl[i].st == S_IDLE) {
                                g_cl[i].st = S_NOOP;
                                g_cl[i].deadline = phase_start + o->timeout;
                                send_line(&g_cl[i], "NOOP\r\n");
                            }
                    } else if (strcmp(cmd, "quit") == 0) {
                        goto quit;
                    }
                    size_t rest = cmd_len - (size_t)(nl + 1 - cmd);
                    memmove(cmd, nl + 1, rest);
                    cmd_len = rest;
                    cmd[cmd_len] = 0;
                }
                continue;
            }
            struct client *c = &g_cl[evs[k].data.u64 / 2];
            if (c->st == S_IDLE) {
                /* an idle session must stay silent: anything here is a loss */
                char junk[512];
                ssize_t r = recv(c->ctl, junk, sizeof junk, 0);
                if (r < 0 && errno == EAGAIN) continue;
                fail(c, r == 0 ? "idle session closed by the server"
                               : "unsolicited reply on an idle session");
                continue;
            }
            dispatch(&evs[k]);
        }
        double t = now_s();
        if (t - last_scan >= 0.05) {
            scan(t);
            last_scan = t;
        }
    }
quit:
    for (int i = 0; i < g_ncl; i++)
        if (g_cl[i].ctl >= 0) send(g_cl[i].ctl, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
    usleep(200000);
    for (int i = 0; i < g_ncl; i++) close_fds(&g_cl[i]);
    printf("{\"event\":\"closed\",\"client_cpu\":%.4f}\n", cpu_self_s());
    return 0;
}

/* -------------------------------------------------------------- main */

static void usage(void) {
    fprintf(stderr,
            "usage: ftpload MODE -h HOST -p PORT [options]\n"
            "  xfer     -o retr|stor -m epsv|port -f REMOTE [-l LOCAL]\n"
            "  sessions -c CLIENTS -d SECONDS [-W WARMUP] -f REMOTE -s SIZE\n"
            "  idle     -n SESSIONS [-c LOGINS_IN_FLIGHT]\n"
            "  noop     -n ROUNDTRIPS\n"
            "  common   -u USER -w PASS -t TIMEOUT\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *mode = argv[1];
    struct opts o = {.host = "127.0.0.1", .port = 21, .user = "anonymous",
                     .pass = "bench@example.org", .op = "retr", .mode = "epsv",
                     .remote = NULL, .local = NULL, .size = 4096, .conc = 8, .count = 1000,
                     .duration = 5, .warmup = 1, .timeout = 60};
    int ch;
    optind = 2;
    while ((ch = getopt(argc, argv, "h:p:u:w:o:m:f:l:s:c:n:d:W:t:")) != -1) {
        switch (ch) {
            case 'h': o.host = optarg; break;
            case 'p': o.port = atoi(optarg); break;
            case 'u': o.user = optarg; break;
            case 'w': o.pass = optarg; break;
            case 'o': o.op = optarg; break;
            case 'm': o.mode = optarg; break;
            case 'f': o.remote = optarg; break;
            case 'l': o.local = optarg; break;
            case 's': o.size = atoll(optarg); break;
            case 'c': o.conc = atoi(optarg); break;
            case 'n': o.count = atoi(optarg); break;
            case 'd': o.duration = atof(optarg); break;
            case 'W': o.warmup = atof(optarg); break;
            case 't': o.timeout = atof(optarg); break;
            default: usage();
        }
    }
    raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "xfer") == 0) {
        if (!o.remote) usage();
        return mode_xfer(&o);
    }
    if (strcmp(mode, "sessions") == 0) {
        if (!o.remote) usage();
        return mode_sessions(&o);
    }
    if (strcmp(mode, "idle") == 0) return mode_idle(&o);
    if (strcmp(mode, "noop") == 0) return mode_noop(&o);
    usage();
    return 2;
}
