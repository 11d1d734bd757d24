/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/main.c: `neocortex`, the ipcs/ipcrm of this library.
 *
 *   neocortex ls [--json] [--all] [--match GLOB]...
 *   neocortex show [--json] KEY|NAME
 *   neocortex rm [--force] KEY|NAME...
 *   neocortex gc [--dry-run] [--json] [--match GLOB]...
 *   neocortex top [--json] [--interval SECONDS] [-n N] [--match GLOB]...
 *
 * The help texts below are what tools/inspect/neocortex.1 documents; the
 * build suite (tests/inspect/check_man.py) checks that both name the same
 * commands and options.
 *
 * Exit status: 0 success; 1 not found, refused or failed; 2 usage error;
 * 3 (show) the segment exists but is not a valid neocortex segment.
 */
#define _GNU_SOURCE
#include "seg.h"

#include "internal.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <neocortex/version.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INVALID = 3 };

#define MAX_GLOBS 64

/* One command: its synopsis (after "neocortex ") and what it does, as `--help` prints them. */
typedef struct command {
    const char *name;
    const char *synopsis;
    const char *help;
    int (*run)(int argc, char **argv);
} command;

static const command *find_command(const char *name);

static const char usage_head[] =
    "usage: neocortex COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Lists, watches and manages the neocortex shared-memory segments on this host.\n"
    "\n"
    "commands:\n";

static const char usage_tail[] =
    "\n"
    "options of every command:\n"
    "  --help  print the command's help\n"
    "neocortex --version prints the version; neocortex --help (or help) this text.\n"
    "\n"
    "KEY is a SysV key (decimal or 0x hex); NAME is a POSIX name (/name).\n"
    "GLOB is matched against \"0x%08x\" keys and \"/name\" names (fnmatch).\n"
    "memfd segments have no system-wide name and are not visible to this tool.\n"
    "\n"
    "exit status: 0 ok, 1 not found / refused / failed, 2 usage,\n"
    "             3 the segment exists but is not a valid neocortex segment\n"
    "The manual page is neocortex(1).\n";

static int usage_error(const char *fmt, ...) CORTEX_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "neocortex: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'neocortex help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

static const char *verdict_name(cortex__liveness v)
{
    return v == CORTEX__ALIVE ? "alive" : v == CORTEX__DEAD ? "dead" : "unknown";
}

static const char *status_word(const nc_seg *s)
{
    switch (s->status) {
    case NC_OURS: break;
    case NC_CORRUPT: return "corrupt";
    case NC_FOREIGN: return "foreign";
    case NC_UNREADABLE: return "unreadable";
    }
    switch (s->hdr.state) {
    case CORTEX_STATE_INIT: return "init";
    case CORTEX_STATE_READY: return "ready";
    case CORTEX_STATE_FAILED: return "failed";
    default: return "state?";
    }
}

/*
 * A name or problem text made safe for a terminal (a POSIX name may hold
 * any byte but '/', escape sequences included).  buf has NC_SHOWN bytes.
 */
#define NC_SHOWN (CORTEX_ERROR_MESSAGE_MAX + NC_NAME_LEN + 16)
static const char *safe_text(const char *text, char *buf)
{
    nc_printable(text, NC_SHOWN - 1, buf); /* stops at text's NUL */
    return buf;
}

/* Age from the header's creation time; the header may hold anything, so never overflow (-1 if in the future). */
static int64_t age_ns(const nc_seg *s)
{
    uint64_t now = (uint64_t)cortex__realtime_ns(), created = s->hdr.created_ns;
    if (created > now)
        return -1; /* shown as "future" */
    uint64_t age = now - created;
    return age > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)age;
}

/* Can gc remove it?  Our header, creator and owner dead, nobody attached (known). */
static bool is_garbage(const nc_seg *s)
{
    return s->status == NC_OURS && !s->creator_alive && !s->owner_alive && s->attached == 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_seg(FILE *f, const nc_seg *s)
{
    char buf[CORTEX_TYPE_TAG_MAX + 1];
    fputs("{\"id\":", f);
    nc_json_str(f, s->id);
    fprintf(f, ",\"backing\":\"%s\"", s->backing == NC_SYSV ? "sysv" : "posix");
    if (s->backing == NC_SYSV)
        fprintf(f, ",\"key\":%" PRIu32 ",\"shmid\":%d", (uint32_t)s->key, s->shmid);
    else {
        fputs(",\"name\":", f);
        nc_json_str(f, s->name);
    }
    fprintf(f, ",\"status\":\"%s\"", s->status == NC_OURS ? "ok" : status_word(s));
    if (s->status != NC_OURS) {
        fputs(",\"problem\":", f);
        nc_json_str(f, s->problem);
    }
    fprintf(f, ",\"size\":%" PRIu64 ",\"uid\":%u,\"mode\":\"%04o\"", s->size, (unsigned)s->uid, s->mode);
    if (s->attached >= 0)
        fprintf(f, ",\"attached\":%ld", s->attached);
    else
        fputs(",\"attached\":null", f);
    if (s->status == NC_OURS) {
        const cortex_seg_header *h = &s->hdr;
        nc_printable(h->type_tag, sizeof h->type_tag, buf);
        fprintf(f, ",\"kind\":\"%s\",\"type\":", cortex_kind_name(h->kind));
        nc_json_str(f, buf);
        char lock[32];
        fprintf(f,
                ",\"elem_size\":%" PRIu32 ",\"elem_align\":%" PRIu32 ",\"type_hash\":\"0x%016" PRIx64 "\""
                ",\"payload_size\":%" PRIu64 ",\"payload_offset\":%" PRIu64 ",\"payload_align\":%" PRIu32
                ",\"lock\":\"%s\",\"lock_id\":%" PRIu32,
                h->elem_size, h->elem_align, h->type_hash, h->payload_size, h->payload_offset, h->payload_align,
                nc_lock_name(h->lock_id, lock, sizeof lock), h->lock_id);
        fprintf(f,
                ",\"creator_pid\":%" PRId32 ",\"creator_alive\":%s,\"owner_pid\":%" PRId32
                ",\"owner_alive\":%s,\"created_ns\":%" PRIu64 ",\"age_s\":%lld,\"state\":\"%s\"",
                h->creator_pid, s->creator_alive ? "true" : "false", h->owner_pid, s->owner_alive ? "true" : "false",
                h->created_ns, (long long)(age_ns(s) / 1000000000), status_word(s));
    }
    fputc('}', f);
}

/* ---- ls -------------------------------------------------------------------- */

static void print_notes(const nc_list *l, bool all)
{
    if (!l->sysv_listed)
        fprintf(stderr, "note: /proc/sysvipc/shm is not readable: SysV segments not listed\n");
    if (!l->posix_listed)
        fprintf(stderr, "note: /dev/shm is not readable: POSIX names not listed\n");
    if (!all && (l->unreadable_sysv || l->unreadable_posix))
        fprintf(stderr, "note: %u SysV segment(s) and %u POSIX name(s) could not be read (permission); --all lists them\n",
                l->unreadable_sysv, l->unreadable_posix);
    if (l->maps_partial)
        fprintf(stderr, "note: some processes' /proc/PID/maps are not readable: their mappings of POSIX names are not counted\n");
    fprintf(stderr, "note: memfd segments have no system-wide name and cannot be listed\n");
}

/* Options of every command; each command accepts the letters it names. */
typedef struct cli {
    bool json, all, dry, force;
    const char *globs[MAX_GLOBS];
    size_t nglobs;
    double interval_s; /* --interval (top), default 1 */
    long iterations;   /* -n (top), default 0: until interrupted */
} cli;

static void print_command_help(const command *c, FILE *f);

/* Seconds for --interval: a plain decimal number, 0.01 to 86400. */
static bool parse_interval(const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0.01 && v <= 86400))
        return false;
    *out = v;
    return true;
}

/* A frame count for -n: 1 to 1000000000. */
static bool parse_count(const char *arg, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 1000000000L)
        return false;
    *out = v;
    return true;
}

/*
 * Parses argv (argv[0] is the command) for the options in @accept
 * ("jamnfiN": --json --all --match --dry-run --force --interval -n).  With
 * 'N' accepted, -n is the count; else it is --dry-run.  Returns -1 when the
 * command should go on (operands from optind), else an exit status.
 */
static int parse_cli(int argc, char **argv, const char *accept, cli *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"match", required_argument, NULL, 'm'},
        {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
        {"interval", required_argument, NULL, 'i'},
        {"iterations", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool counts = strchr(accept, 'N') != NULL;
    memset(o, 0, sizeof *o);
    o->interval_s = 1.0;
    optind = 1;
    opterr = 0;
    int c, longindex = -1;
    while ((c = getopt_long(argc, argv, counts ? "+:jam:n:fh" : "+:jam:nfh", longopts, &longindex)) != -1) {
        bool was_long = longindex >= 0;
        longindex = -1;
        if (c == 'h') {
            print_command_help(find_command(argv[0]), stdout);
            return EXIT_OK;
        }
        if (c == ':')
            return usage_error("%s: option '%s' needs an argument", argv[0], argv[optind - 1]);
        if (c == 'n' && counts && !was_long)
            c = 'N'; /* -n N; --dry-run stays itself (and is refused below) */
        if (c == '?' || !strchr(accept, c))
            return usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
        switch (c) {
        case 'j': o->json = true; break;
        case 'a': o->all = true; break;
        case 'n': o->dry = true; break;
        case 'f': o->force = true; break;
        case 'i':
            if (!parse_interval(optarg, &o->interval_s))
                return usage_error("%s: --interval wants seconds from 0.01 to 86400, not '%s'", argv[0], optarg);
            break;
        case 'N':
            if (!parse_count(optarg, &o->iterations))
                return usage_error("%s: -n wants a count from 1 to 1000000000, not '%s'", argv[0], optarg);
            break;
        case 'm':
            if (o->nglobs == MAX_GLOBS)
                return usage_error("too many --match options");
            o->globs[o->nglobs++] = optarg;
            break;
        default: break;
        }
    }
    return -1;
}

static int cmd_ls(int argc, char **argv)
{
    cli o;
    int rc = parse_cli(argc, argv, "jam", &o);
    if (rc >= 0)
        return rc;
    bool json = o.json, all = o.all;
    if (optind != argc)
        return usage_error("ls takes no arguments (got '%s')", argv[optind]);

    nc_list l;
    if (nc_scan_match(&l, o.globs, o.nglobs) < 0) {
        fprintf(stderr, "neocortex: out of memory\n");
        return EXIT_FAIL;
    }
    rc = (l.sysv_listed || l.posix_listed) ? EXIT_OK : EXIT_FAIL;

    if (json) {
        fputs("{\"segments\":[", stdout);
        bool first = true;
        for (size_t i = 0; i < l.n; i++) {
            const nc_seg *s = &l.v[i];
            if (!all && (s->status == NC_FOREIGN || s->status == NC_UNREADABLE))
                continue;
            if (!first)
                fputc(',', stdout);
            first = false;
            json_seg(stdout, s);
        }
        printf("],\"unreadable\":{\"sysv\":%u,\"posix\":%u},\"sysv_listed\":%s,\"posix_listed\":%s"
               ",\"attached_partial\":%s,\"memfd\":\"not listable: memfd segments have no system-wide name\"}\n",
               l.unreadable_sysv, l.unreadable_posix, l.sysv_listed ? "true" : "false",
               l.posix_listed ? "true" : "false", l.maps_partial ? "true" : "false");
        nc_list_free(&l);
        return rc;
    }

    int idw = 8;
    for (size_t i = 0; i < l.n; i++) {
        int w = (int)strlen(l.v[i].id);
        if (w > idw && w < 64)
            idw = w;
    }
    printf("%-*s  %-7s %-7s %-16s %10s  %-9s %-16s %4s %6s\n", idw, "KEY/NAME", "BACKING", "KIND", "TYPE", "SIZE",
           "LOCK", "CREATOR", "ATT", "AGE");
    unsigned shown = 0;
    for (size_t i = 0; i < l.n; i++) {
        const nc_seg *s = &l.v[i];
        if (!all && (s->status == NC_FOREIGN || s->status == NC_UNREADABLE))
            continue;
        shown++;
        char size[32], att[24];
        nc_fmt_size(s->size, size, sizeof size);
        if (s->attached >= 0)
            snprintf(att, sizeof att, "%ld", s->attached);
        else
            snprintf(att, sizeof att, "n/a");
        const char *backing = s->backing == NC_SYSV ? "sysv" : "posix";
        if (s->status != NC_OURS) {
            char id[NC_SHOWN];
            printf("%-*s  %-7s %-7s %-16s %10s  %-9s %-16s %4s %6s\n", idw, safe_text(s->id, id), backing,
                   status_word(s), "-",
                   size, "-", "-", att, "-");
            continue;
        }
        const cortex_seg_header *h = &s->hdr;
        char tag[CORTEX_TYPE_TAG_MAX + 1], lock[32], creator[40], age[24], kind[24], id[NC_SHOWN];
        nc_printable(h->type_tag, sizeof h->type_tag, tag);
        if (!tag[0])
            snprintf(tag, sizeof tag, "-");
        snprintf(creator, sizeof creator, "%" PRId32 " %s", h->creator_pid, verdict_name(s->creator_verdict));
        if (h->state == CORTEX_STATE_READY)
            snprintf(kind, sizeof kind, "%s", cortex_kind_name(h->kind));
        else
            snprintf(kind, sizeof kind, "%s(%s)", cortex_kind_name(h->kind), status_word(s));
        printf("%-*s  %-7s %-7s %-16.64s %10s  %-9s %-16s %4s %6s\n", idw, safe_text(s->id, id), backing, kind, tag,
               size,
               nc_lock_name(h->lock_id, lock, sizeof lock), creator, att, nc_fmt_age(age_ns(s), age, sizeof age));
    }
    /* Problems of the corrupt ones (and, with --all, the others) below the table. */
    for (size_t i = 0; i < l.n; i++) {
        const nc_seg *s = &l.v[i];
        if (s->status == NC_CORRUPT || (all && s->status != NC_OURS)) {
            char id[NC_SHOWN], problem[NC_SHOWN];
            printf("%s: %s: %s (left alone)\n", safe_text(s->id, id), status_word(s), safe_text(s->problem, problem));
        }
    }
    if (shown == 0)
        printf("(no neocortex segments)\n");
    print_notes(&l, all);
    nc_list_free(&l);
    return rc;
}

/* ---- show ------------------------------------------------------------------ */

static void show_text(const nc_seg *s)
{
    char id[NC_SHOWN], name[NC_SHOWN], problem[NC_SHOWN];
    if (s->backing == NC_SYSV)
        printf("segment    %s (SysV key %" PRId32 ", shmid %d)\n", s->id, s->key, s->shmid);
    else
        printf("segment    %s (POSIX name, /dev/shm%s)\n", safe_text(s->id, id), safe_text(s->name, name));
    printf("size       %" PRIu64 " bytes, mode %04o, uid %u\n", s->size, s->mode, (unsigned)s->uid);
    if (s->attached >= 0)
        printf("attached   %ld\n", s->attached);
    else
        printf("attached   n/a\n");
    if (s->status != NC_OURS) {
        printf("status     %s: %s\n", status_word(s), safe_text(s->problem, problem));
        return;
    }
    const cortex_seg_header *h = &s->hdr;
    char tag[CORTEX_TYPE_TAG_MAX + 1], lock[32], age[24], when[64];
    nc_printable(h->type_tag, sizeof h->type_tag, tag);
    time_t secs = (time_t)(h->created_ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(when, sizeof when, "?");
    printf("status     ok (layout version %" PRIu32 ", header checksum valid)\n", h->version);
    printf("state      %s\n", status_word(s));
    printf("kind       %s\n", cortex_kind_name(h->kind));
    printf("type       '%s' (size %" PRIu32 ", align %" PRIu32 ", hash 0x%016" PRIx64 ")\n", tag, h->elem_size,
           h->elem_align, h->type_hash);
    printf("payload    %" PRIu64 " bytes at offset %" PRIu64 ", align %" PRIu32 "; segment %" PRIu64 " bytes\n",
           h->payload_size, h->payload_offset, h->payload_align, h->segment_size);
    printf("lock       %s\n", nc_lock_name(h->lock_id, lock, sizeof lock));
    printf("creator    pid %" PRId32 " (%s)\n", h->creator_pid, verdict_name(s->creator_verdict));
    printf("owner      pid %" PRId32 " (%s)\n", h->owner_pid, verdict_name(s->owner_verdict));
    printf("created    %s (%s ago)\n", when, nc_fmt_age(age_ns(s), age, sizeof age));
}

static int cmd_show(int argc, char **argv)
{
    cli o;
    int prc = parse_cli(argc, argv, "j", &o);
    if (prc >= 0)
        return prc;
    bool json = o.json;
    if (argc - optind != 1)
        return usage_error("show takes one KEY or NAME");
    nc_backing backing;
    int32_t key = 0;
    char name[NC_NAME_LEN];
    if (nc_parse_target(argv[optind], &backing, &key, name) < 0)
        return usage_error("not a SysV key or POSIX name: '%s'", argv[optind]);
    nc_seg s;
    int rc = nc_lookup(backing, key, name, &s);
    if (rc < 0) {
        fprintf(stderr, "neocortex: %s: %s\n", argv[optind],
                rc == -ENOENT ? "no such segment" : strerror(-rc));
        return EXIT_FAIL;
    }
    int live = 0;
    if (json) {
        fputs("{\"segment\":", stdout);
        json_seg(stdout, &s);
        if (s.status == NC_OURS && s.hdr.state == CORTEX_STATE_READY) {
            fputs(",\"live\":", stdout);
            live = nc_show_kind(&s, stdout, true);
        }
        fputs("}\n", stdout);
    } else {
        show_text(&s);
        if (s.status == NC_OURS && s.hdr.state == CORTEX_STATE_READY)
            live = nc_show_kind(&s, stdout, false);
    }
    /* A valid header over a corrupt cell/ring/slab is not a valid segment either. */
    if (s.status != NC_OURS || live == -EBADMSG || live == -EPROTO)
        return EXIT_INVALID;
    return EXIT_OK;
}

/* ---- rm -------------------------------------------------------------------- */

static int cmd_rm(int argc, char **argv)
{
    cli o;
    int prc = parse_cli(argc, argv, "f", &o);
    if (prc >= 0)
        return prc;
    bool force = o.force;
    if (optind == argc)
        return usage_error("rm needs at least one KEY or NAME");
    /* Parse every argument first: a typo must not remove half of them. */
    for (int i = optind; i < argc; i++) {
        nc_backing b;
        int32_t k;
        char n[NC_NAME_LEN];
        if (nc_parse_target(argv[i], &b, &k, n) < 0)
            return usage_error("not a SysV key or POSIX name: '%s'", argv[i]);
    }
    int status = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        nc_backing backing;
        int32_t key = 0;
        char name[NC_NAME_LEN];
        nc_parse_target(argv[i], &backing, &key, name);
        nc_seg s;
        int rc = nc_lookup(backing, key, name, &s);
        if (rc < 0) {
            fprintf(stderr, "neocortex: %s: %s\n", argv[i], rc == -ENOENT ? "no such segment" : strerror(-rc));
            status = EXIT_FAIL;
            continue;
        }
        if (!force && s.status != NC_OURS) {
            fprintf(stderr, "neocortex: %s: refused: %s (%s); --force removes it anyway\n", s.id,
                    s.status == NC_CORRUPT ? "corrupt neocortex segment" : "not a neocortex segment", s.problem);
            status = EXIT_FAIL;
            continue;
        }
        if (!force && s.attached != 0) {
            if (s.attached > 0)
                fprintf(stderr, "neocortex: %s: refused: still attached by %ld %s; --force removes it anyway\n",
                        s.id, s.attached, s.backing == NC_SYSV ? "mapping(s)" : "process(es)");
            else
                fprintf(stderr, "neocortex: %s: refused: cannot tell who attaches it; --force removes it anyway\n",
                        s.id);
            status = EXIT_FAIL;
            continue;
        }
        bool sem = false;
        rc = nc_remove(&s, &sem);
        if (rc < 0) {
            fprintf(stderr, "neocortex: %s: could not remove: %s\n", s.id,
                    rc == -ESTALE ? "the key now names another segment" : strerror(-rc));
            status = EXIT_FAIL;
            continue;
        }
        printf("removed %s%s%s\n", s.id, sem ? " and its semaphore" : "",
               s.attached > 0 ? " (still mapped by its users until they detach)" : "");
    }
    return status;
}

/* ---- gc -------------------------------------------------------------------- */

static int cmd_gc(int argc, char **argv)
{
    cli o;
    int prc = parse_cli(argc, argv, "jmn", &o);
    if (prc >= 0)
        return prc;
    bool dry = o.dry, json = o.json;
    if (optind != argc)
        return usage_error("gc takes no arguments (got '%s'); use --match", argv[optind]);
    nc_list l;
    if (nc_scan_match(&l, o.globs, o.nglobs) < 0) {
        fprintf(stderr, "neocortex: out of memory\n");
        return EXIT_FAIL;
    }
    int status = EXIT_OK;
    unsigned removed = 0;
    if (json)
        fputs("{\"removed\":[", stdout);
    for (size_t i = 0; i < l.n; i++) {
        nc_seg *s = &l.v[i];
        if (s->status == NC_CORRUPT) {
            char id[NC_SHOWN], problem[NC_SHOWN];
            fprintf(stderr, "skipped %s: corrupt (%s); left alone, 'rm --force' removes it\n", safe_text(s->id, id),
                    safe_text(s->problem, problem));
            continue;
        }
        if (!is_garbage(s))
            continue;
        bool sem = false;
        int rc = dry ? 0 : nc_remove(s, &sem);
        if (rc < 0) {
            fprintf(stderr, "neocortex: %s: could not remove: %s\n", s->id, strerror(-rc));
            status = EXIT_FAIL;
            continue;
        }
        char tag[CORTEX_TYPE_TAG_MAX + 1], id[NC_SHOWN];
        nc_printable(s->hdr.type_tag, sizeof s->hdr.type_tag, tag);
        if (json) {
            if (removed)
                fputc(',', stdout);
            json_seg(stdout, s);
        } else {
            printf("%s %s (%s '%s', creator pid %" PRId32 " dead, nobody attached)%s\n",
                   dry ? "would remove" : "removed", safe_text(s->id, id), cortex_kind_name(s->hdr.kind), tag,
                   s->hdr.creator_pid,
                   sem ? " and its semaphore" : "");
        }
        removed++;
    }
    if (json)
        printf("],\"dry_run\":%s}\n", dry ? "true" : "false");
    else if (removed == 0)
        printf("nothing to collect\n");
    nc_list_free(&l);
    return status;
}

/* ---- top ------------------------------------------------------------------- */

static int cmd_top(int argc, char **argv)
{
    cli o;
    int prc = parse_cli(argc, argv, "jmiN", &o);
    if (prc >= 0)
        return prc;
    if (optind != argc)
        return usage_error("top takes no arguments (got '%s'); use --match", argv[optind]);
    nc_top_opts t = {.json = o.json,
                     .interval_s = o.interval_s,
                     .iterations = o.iterations,
                     .globs = o.globs,
                     .nglobs = o.nglobs};
    return nc_top(&t);
}

/* ---- help ------------------------------------------------------------------ */

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"ls", "ls [--json] [--all] [--match GLOB]...",
     "every neocortex segment (SysV keys and POSIX names); --all adds\n"
     "foreign and unreadable ones; --json prints one JSON object",
     cmd_ls},
    {"show", "show [--json] KEY|NAME",
     "the segment's header and its cell/ring/slab state", cmd_show},
    {"rm", "rm [--force] KEY|NAME...",
     "remove segments (and a SysV semaphore under the same key);\n"
     "refuses a segment still attached, or foreign, unless --force",
     cmd_rm},
    {"gc", "gc [--dry-run] [--json] [--match GLOB]...",
     "remove segments whose creator is dead and which nobody attaches;\n"
     "--dry-run only lists them",
     cmd_gc},
    {"top", "top [--json] [--interval SECONDS] [-n N] [--match GLOB]...",
     "a live table of the segments with rates (ring messages in/out per\n"
     "second and fill, cell writes per second, slab occupancy, high-water\n"
     "and failed allocations, attached processes), refreshed every\n"
     "--interval seconds (default 1); -n N (--iterations N) stops after N\n"
     "frames; --json prints one JSON object per frame and line.  A terminal\n"
     "is redrawn in place; a pipe gets plain tables one after another",
     cmd_top},
    {"help", "help [COMMAND]", "this text, or one command's", cmd_help},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    if (strcmp(name, "list") == 0)
        return &commands[0];
    return NULL;
}

/* Writes @text with every line indented by @indent spaces. */
static void put_indented(const char *text, int indent, FILE *f)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(f, "%*s%.*s\n", indent, "", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %s\n", commands[i].synopsis);
        put_indented(commands[i].help, 8, f);
    }
    fputs(usage_tail, f);
}

static void print_command_help(const command *c, FILE *f)
{
    if (!c) {
        print_usage(f);
        return;
    }
    fprintf(f, "usage: neocortex %s\n\n", c->synopsis);
    put_indented(c->help, 0, f);
    fputs("\nSee neocortex --help for KEY, NAME, GLOB and the exit status, and neocortex(1).\n", f);
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 2)
        return usage_error("help takes at most one COMMAND");
    if (argc < 2) {
        print_usage(stdout);
        return EXIT_OK;
    }
    const command *c = strcmp(argv[1], "--help") == 0 ? find_command("help") : find_command(argv[1]);
    if (!c)
        return usage_error("help: unknown command '%s'", argv[1]);
    print_command_help(c, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("neocortex %s (segment layout version %u)\n", CORTEX_VERSION_STRING, CORTEX_LAYOUT_VERSION);
        return EXIT_OK;
    }
    const command *c = find_command(cmd);
    if (!c)
        return usage_error("unknown command '%s'", cmd);
    /* Each command parses its own options from argv[1] on. */
    return c->run(argc - 1, argv + 1);
}
