/* SPDX-License-Identifier: MIT */
/*
 * lib/doorbell/fdspec.c: the text that tells a child its fds,
 * "doorbell:3,segment:4", parsed strictly (it comes from outside: an
 * argument or the environment) and formatted.
 */
#define _GNU_SOURCE
#include "doorbell_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

/* A character for a message: printable as itself, else as '?'. */
static char shown(char c) { return (c >= 0x20 && c < 0x7f) ? c : '?'; }

int cortex_fdspec_parse(cortex_fdspec *ret, const char *text)
{
    if (!ret || !text)
        return cortex__fail(EINVAL, "cortex_fdspec_parse: NULL argument");
    size_t len = strnlen(text, CORTEX_FDSPEC_TEXT_MAX + 1);
    if (len > CORTEX_FDSPEC_TEXT_MAX)
        return cortex__fail(EOVERFLOW, "fd spec is longer than %u bytes", CORTEX_FDSPEC_TEXT_MAX);
    if (len == 0)
        return cortex__fail(EINVAL, "fd spec is empty; expected name:fd[,name:fd...]");

    cortex_fdspec spec;
    memset(&spec, 0, sizeof spec);
    int limit = cortex__fd_limit();
    size_t i = 0;
    for (;;) {
        /* name */
        size_t start = i;
        while (i < len && name_char(text[i]))
            i++;
        size_t nlen = i - start;
        if (nlen == 0) {
            if (i < len)
                return cortex__fail(EINVAL, "fd spec: byte %zu ('%c') cannot start a name; names are [a-z0-9_-]",
                                    i, shown(text[i]));
            return cortex__fail(EINVAL, "fd spec: a name is missing at byte %zu", i);
        }
        if (nlen > CORTEX_FDSPEC_NAME_MAX)
            return cortex__fail(EINVAL, "fd spec: the name at byte %zu is %zu bytes, longer than %u", start, nlen,
                                CORTEX_FDSPEC_NAME_MAX);
        if (i >= len || text[i] != ':')
            return cortex__fail(EINVAL, "fd spec: expected ':' after the name at byte %zu, found %s%c%s", start,
                                i < len ? "'" : "", i < len ? shown(text[i]) : ' ',
                                i < len ? "'" : "the end");
        i++;
        /* number: decimal digits, no sign, no leading zero */
        size_t nstart = i;
        long long v = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            if (i - nstart >= 10)
                return cortex__fail(ERANGE, "fd spec: the number at byte %zu has more than 10 digits", nstart);
            v = v * 10 + (text[i] - '0');
            i++;
        }
        if (i == nstart)
            return cortex__fail(EINVAL, "fd spec: expected an fd number at byte %zu, found %s%c%s", nstart,
                                i < len ? "'" : "", i < len ? shown(text[i]) : ' ', i < len ? "'" : "the end");
        if (text[nstart] == '0' && i - nstart > 1)
            return cortex__fail(EINVAL, "fd spec: the number at byte %zu has a leading zero", nstart);
        if (i < len && text[i] != ',')
            return cortex__fail(EINVAL, "fd spec: unexpected '%c' at byte %zu after the number", shown(text[i]), i);
        if (v < 3)
            return cortex__fail(ERANGE, "fd spec: fd %lld at byte %zu is stdin/stdout/stderr; handed fds start at 3",
                                v, nstart);
        if (v >= limit)
            return cortex__fail(ERANGE, "fd spec: fd %lld at byte %zu is beyond this process's fd limit (%d)", v,
                                nstart, limit);
        /* store, refusing repeats */
        for (unsigned k = 0; k < spec.count; k++) {
            if (strlen(spec.entry[k].name) == nlen && memcmp(spec.entry[k].name, text + start, nlen) == 0)
                return cortex__fail(EINVAL, "fd spec: name '%s' given twice", spec.entry[k].name);
            if (spec.entry[k].fd == (int)v)
                return cortex__fail(EINVAL, "fd spec: fd %lld given twice ('%s' and the entry at byte %zu)", v,
                                    spec.entry[k].name, start);
        }
        if (spec.count == CORTEX_FDSPEC_MAX)
            return cortex__fail(EOVERFLOW, "fd spec: more than %u entries", CORTEX_FDSPEC_MAX);
        memcpy(spec.entry[spec.count].name, text + start, nlen);
        spec.entry[spec.count].name[nlen] = '\0';
        spec.entry[spec.count].fd = (int)v;
        spec.count++;
        if (i == len)
            break;
        i++; /* ',' */
        if (i == len)
            return cortex__fail(EINVAL, "fd spec: trailing ',' at byte %zu", i - 1);
    }
    *ret = spec;
    return 0;
}

int cortex_fdspec_format(const cortex_fdspec *spec, char *buf, size_t len)
{
    if (!spec || !buf || len == 0 || spec->count > CORTEX_FDSPEC_MAX)
        return cortex__fail(EINVAL, "cortex_fdspec_format: bad argument");
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < spec->count; i++) {
        int n = snprintf(buf + used, len - used, "%s%.*s:%d", i ? "," : "", (int)CORTEX_FDSPEC_NAME_MAX,
                         spec->entry[i].name, spec->entry[i].fd);
        if (n < 0 || (size_t)n >= len - used) {
            buf[0] = '\0';
            return cortex__fail(ENAMETOOLONG, "fd spec does not fit in %zu bytes", len);
        }
        used += (size_t)n;
    }
    return (int)used;
}

int cortex_fdspec_find(const cortex_fdspec *spec, const char *name)
{
    if (!spec || !name)
        return cortex__fail(EINVAL, "cortex_fdspec_find: NULL argument");
    for (unsigned i = 0; i < spec->count && i < CORTEX_FDSPEC_MAX; i++)
        if (strncmp(spec->entry[i].name, name, sizeof spec->entry[i].name) == 0)
            return spec->entry[i].fd;
    return cortex__fail(ENOENT, "fd spec has no entry '%s'", name);
}

int cortex_fdspec_from_process(cortex_fdspec *ret, int argc, char *const *argv)
{
    size_t plen = strlen(CORTEX_FDS_ARG);
    for (int i = 1; argv && i < argc && argv[i]; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], CORTEX_FDS_ARG, plen) == 0)
            return cortex_fdspec_parse(ret, argv[i] + plen);
    }
    const char *env = getenv(CORTEX_FDS_ENV);
    if (!env)
        return cortex__fail(ENOENT, "no fds were handed to this process: neither %s<spec> nor %s is given",
                            CORTEX_FDS_ARG, CORTEX_FDS_ENV);
    return cortex_fdspec_parse(ret, env);
}
