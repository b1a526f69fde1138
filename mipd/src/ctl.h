/*
 * Control socket of a daemon: a UNIX stream socket speaking JSON lines.
 * A client sends one object per line, {"cmd": "NAME", "args": {...}} (args
 * optional); the daemon answers one line:
 *   {"ok": true, "cmd": "NAME", "items": [ {flat object}, ... ], ...}
 *   {"ok": false, "cmd": "NAME", "error": "reason"}
 * Every listing answer carries an "items" array of flat objects (string,
 * number or bool values) so mipctl can render any of them as a table.
 */
#ifndef MIPD_CTL_H
#define MIPD_CTL_H

#include <stdio.h>

struct loop;
struct ctl;

/* Writes the answer's members after {"ok":true,"cmd":"NAME", i.e. starting
 * with a comma (e.g. ,"items":[...]); returns 0, or -1 with *err set to a
 * static reason string for an {"ok":false} answer. args_json is the raw
 * "args" object text or NULL. */
typedef int (*ctl_handler)(void *arg, const char *cmd, const char *args_json, FILE *out,
                           const char **err);

struct ctl *ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg);
void ctl_close(struct ctl *c); /* unlinks the socket path */

/* Writes s as a JSON string literal (with quotes, escaped). */
void ctl_json_str(FILE *out, const char *s);

#endif
