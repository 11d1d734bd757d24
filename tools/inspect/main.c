/* SPDX-License-Identifier: MIT */
/*
 * tools/inspect/main.c: `neocortex`, the ipcs/ipcrm of this library.
 *
 *   neocortex ls [--json] [--all] [--match GLOB]...
 *   neocortex show [--json] KEY|NAME
 *   neocortex rm [--force] KEY|NAME...
 *   neocortex gc [--dry-run] [--json] [--match GLOB]...
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

static const char usage_text[] =
    "usage: neocortex COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Lists and manages the neocortex shared-memory segments on this host.\n"
    "\n"
    "commands:\n"
    "  ls [--json] [--all] [--match GLOB]...\n"
    "        every neocortex segment (SysV keys and POSIX names); --all adds\n"
    "        foreign and unreadable ones\n"
    "  show [--json] KEY|NAME\n"
    "        the segment's header and its cell/ring/slab state\n"
    "  rm [--force] KEY|NAME...\n"
    "        remove segments (and a SysV semaphore under the same key);\n"
    "        refuses a segment still attached, or foreign, unless --force\n"
    "  gc [--dry-run] [--json] [--match GLOB]...\n"
    "        remove segments whose creator is dead and which nobody attaches\n"
    "  help, --help, --version\n"
    "\n"
    "KEY is a SysV key (decimal or 0x hex); NAME is a POSIX name (/name).\n"
    "GLOB is matched against \"0x%08x\" keys and \"/name\" names (fnmatch).\n"
    "memfd segments have no system-wide name and are not visible to this tool.\n"
    "\n"
    "exit status: 0 ok, 1 not found / refused / failed, 2 usage,\n"
    "             3 the segment exists but is not a valid neocortex segment\n";

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
} cli;

/*
 * Parses argv (argv[0] is the command) for the options in @accept
 * ("jamnf": --json --all --match --dry-run --force).  Returns -1 when the
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:jam:nfh", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (c == ':')
            return usage_error("%s: option '%s' needs an argument", argv[0], argv[optind - 1]);
        if (c == '?' || !strchr(accept, c))
            return usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
        switch (c) {
        case 'j': o->json = true; break;
        case 'a': o->all = true; break;
        case 'n': o->dry = true; break;
        case 'f': o->force = true; break;
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
            printf("%-*s  %-7s %-7s %-16s %10s  %-9s %-16s %4s %6s\n", idw, s->id, backing, status_word(s), "-",
                   size, "-", "-", att, "-");
            continue;
        }
        const cortex_seg_header *h = &s->hdr;
        char tag[CORTEX_TYPE_TAG_MAX + 1], lock[32], creator[40], age[24], kind[24];
        nc_printable(h->type_tag, sizeof h->type_tag, tag);
        if (!tag[0])
            snprintf(tag, sizeof tag, "-");
        snprintf(creator, sizeof creator, "%" PRId32 " %s", h->creator_pid, verdict_name(s->creator_verdict));
        if (h->state == CORTEX_STATE_READY)
            snprintf(kind, sizeof kind, "%s", cortex_kind_name(h->kind));
        else
            snprintf(kind, sizeof kind, "%s(%s)", cortex_kind_name(h->kind), status_word(s));
        printf("%-*s  %-7s %-7s %-16.64s %10s  %-9s %-16s %4s %6s\n", idw, s->id, backing, kind, tag, size,
               nc_lock_name(h->lock_id, lock, sizeof lock), creator, att, nc_fmt_age(age_ns(s), age, sizeof age));
    }
    /* Problems of the corrupt ones (and, with --all, the others) below the table. */
    for (size_t i = 0; i < l.n; i++) {
        const nc_seg *s = &l.v[i];
        if (s->status == NC_CORRUPT || (all && s->status != NC_OURS))
            printf("%s: %s: %s (left alone)\n", s->id, status_word(s), s->problem);
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
    if (s->backing == NC_SYSV)
        printf("segment    %s (SysV key %" PRId32 ", shmid %d)\n", s->id, s->key, s->shmid);
    else
        printf("segment    %s (POSIX name, /dev/shm%s)\n", s->id, s->name);
    printf("size       %" PRIu64 " bytes, mode %04o, uid %u\n", s->size, s->mode, (unsigned)s->uid);
    if (s->attached >= 0)
        printf("attached   %ld\n", s->attached);
    else
        printf("attached   n/a\n");
    if (s->status != NC_OURS) {
        printf("status     %s: %s\n", status_word(s), s->problem);
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
            fprintf(stderr, "skipped %s: corrupt (%s); left alone, 'rm --force' removes it\n", s->id, s->problem);
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
        char tag[CORTEX_TYPE_TAG_MAX + 1];
        nc_printable(s->hdr.type_tag, sizeof s->hdr.type_tag, tag);
        if (json) {
            if (removed)
                fputc(',', stdout);
            json_seg(stdout, s);
        } else {
            printf("%s %s (%s '%s', creator pid %" PRId32 " dead, nobody attached)%s\n",
                   dry ? "would remove" : "removed", s->id, cortex_kind_name(s->hdr.kind), tag, s->hdr.creator_pid,
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("neocortex %s (segment layout version %u)\n", CORTEX_VERSION_STRING, CORTEX_LAYOUT_VERSION);
        return EXIT_OK;
    }
    /* Each command parses its own options from argv[1] on. */
    argc -= 1;
    argv += 1;
    if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0)
        return cmd_ls(argc, argv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc, argv);
    if (strcmp(cmd, "rm") == 0)
        return cmd_rm(argc, argv);
    if (strcmp(cmd, "gc") == 0)
        return cmd_gc(argc, argv);
    return usage_error("unknown command '%s'", cmd);
}
