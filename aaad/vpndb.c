/* VPN database in SQLite (see vpndb.h and aaad/README.md). */
#include "vpndb.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

struct vpndb {
    sqlite3 *h;
    int last_ext; /* extended result code of the last failed exec_stmt() */
};

/* ---- errors ------------------------------------------------------------------ */

static bool errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool dberr(struct vpndb *db, char *err, size_t errlen, const char *what)
{
    return errf(err, errlen, "database: %s: %s", what, sqlite3_errmsg(db->h));
}

/* ---- schema -------------------------------------------------------------------
 * MIGRATIONS[i] takes a database from user_version i to i + 1.  Never edit an
 * entry once released: append a new one and bump VPNDB_SCHEMA_VERSION. */

static const char *const MIGRATIONS[VPNDB_SCHEMA_VERSION] = {
    /* 0 -> 1: seed Fig. 5 profiles, users, CN-GW table (Fig. 8). */
    "CREATE TABLE users("
    " nai TEXT PRIMARY KEY NOT NULL,"
    " spi INTEGER NOT NULL,"
    " key BLOB NOT NULL,"
    " ha TEXT NOT NULL,"
    " hoa TEXT,"
    " pool TEXT);"
    "CREATE TABLE vpn_profiles("
    " nai TEXT NOT NULL REFERENCES users(nai) ON DELETE CASCADE ON UPDATE CASCADE,"
    " num INTEGER NOT NULL,"
    " vpnshare INTEGER NOT NULL,"
    " dst TEXT NOT NULL,"
    " dscp_up INTEGER NOT NULL,"
    " dscp_down INTEGER NOT NULL,"
    " spi_up INTEGER NOT NULL,"
    " spi_down INTEGER NOT NULL,"
    " PRIMARY KEY(nai, num));"
    "CREATE TABLE cngw("
    " prefix TEXT PRIMARY KEY NOT NULL,"
    " gw TEXT NOT NULL,"
    " type TEXT NOT NULL CHECK(type IN ('static','dynamic')));",
    /* 1 -> 2: security type, algorithms, lifetime, SLA keys; default SAs; pools. */
    "ALTER TABLE vpn_profiles ADD COLUMN sec INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vpn_profiles ADD COLUMN enc INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE vpn_profiles ADD COLUMN integ INTEGER NOT NULL DEFAULT 2;"
    "ALTER TABLE vpn_profiles ADD COLUMN lifetime INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vpn_profiles ADD COLUMN key_up BLOB;"
    "ALTER TABLE vpn_profiles ADD COLUMN key_down BLOB;"
    "CREATE TABLE default_sas("
    " src_gw TEXT NOT NULL,"
    " dst_gw TEXT NOT NULL,"
    " spi INTEGER NOT NULL,"
    " sec INTEGER NOT NULL,"
    " enc INTEGER NOT NULL,"
    " integ INTEGER NOT NULL,"
    " keys BLOB,"
    " PRIMARY KEY(src_gw, dst_gw));"
    "CREATE TABLE pools("
    " name TEXT PRIMARY KEY NOT NULL,"
    " prefix TEXT NOT NULL);"
    "CREATE TABLE pool_allocs("
    " pool TEXT NOT NULL REFERENCES pools(name) ON DELETE RESTRICT,"
    " addr INTEGER NOT NULL,"
    " session TEXT NOT NULL UNIQUE,"
    " PRIMARY KEY(pool, addr));"
    /* v1 named pools without a pools table: keep them visible (empty prefix
     * 0.0.0.0/32 has no host, so nothing is allocated until it is set). */
    "INSERT INTO pools(name, prefix) SELECT DISTINCT pool, '0.0.0.0/32' FROM users"
    " WHERE pool IS NOT NULL AND pool <> '';",
};

static int user_version(sqlite3 *h)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static bool migrate(struct vpndb *db, char *err, size_t errlen)
{
    int v = user_version(db->h);
    if (v < 0)
        return dberr(db, err, errlen, "reading schema version");
    if (v > VPNDB_SCHEMA_VERSION)
        return errf(err, errlen,
                    "database schema version %d is newer than this program's (%d): upgrade it", v,
                    VPNDB_SCHEMA_VERSION);
    for (; v < VPNDB_SCHEMA_VERSION; v++) {
        char *msg = NULL, sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; COMMIT;", v + 1);
        if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, MIGRATIONS[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
            errf(err, errlen, "database: migration %d -> %d failed: %s", v, v + 1,
                 msg ? msg : sqlite3_errmsg(db->h));
            sqlite3_free(msg);
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return false;
        }
    }
    return true;
}

struct vpndb *vpndb_open(const char *path, char *err, size_t errlen)
{
    /* Create the file ourselves so that it is 0600 from its first byte; SQLite
     * gives its journal the database file's mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && fchmod(fd, sb.st_mode & 0700) != 0) {
        errf(err, errlen, "%s: mode %03o, cannot make it 0600: %s", path,
             (unsigned)(sb.st_mode & 0777), strerror(errno));
        close(fd);
        return NULL;
    }
    close(fd);

    struct vpndb *db = calloc(1, sizeof(*db));
    if (!db) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        errf(err, errlen, "%s: %s", path, db->h ? sqlite3_errmsg(db->h) : "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db->h, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;", NULL, NULL,
                     &msg) != SQLITE_OK) {
        errf(err, errlen, "%s: %s", path, msg ? msg : "pragma failed");
        sqlite3_free(msg);
        goto fail;
    }
    if (user_version(db->h) < 0) {
        errf(err, errlen, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(db->h));
        goto fail;
    }
    if (!migrate(db, err, errlen))
        goto fail;
    return db;
fail:
    sqlite3_close(db->h);
    free(db);
    return NULL;
}

void vpndb_close(struct vpndb *db)
{
    if (!db)
        return;
    sqlite3_close(db->h);
    free(db);
}

int vpndb_schema_version(struct vpndb *db)
{
    return user_version(db->h);
}

/* ---- small helpers ----------------------------------------------------------- */

static sqlite3_stmt *prep(struct vpndb *db, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        dberr(db, err, errlen, "prepare");
        return NULL;
    }
    return st;
}

static void bind_addr(sqlite3_stmt *st, int i, struct in_addr a)
{
    char b[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, b, sizeof(b));
    sqlite3_bind_text(st, i, b, -1, SQLITE_TRANSIENT);
}

static void bind_prefix(sqlite3_stmt *st, int i, struct vpn_prefix p)
{
    char b[20];
    vpn_prefix_str(&p, b);
    sqlite3_bind_text(st, i, b, -1, SQLITE_TRANSIENT);
}

static bool col_addr(sqlite3_stmt *st, int i, struct in_addr *a)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    a->s_addr = 0;
    return s && inet_pton(AF_INET, s, a) == 1;
}

static bool col_prefix(sqlite3_stmt *st, int i, struct vpn_prefix *p)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    memset(p, 0, sizeof(*p));
    return s && vpn_prefix_parse(s, p);
}

/* Runs a statement that returns no rows; returns the number of changed rows or -1. */
static int exec_stmt(struct vpndb *db, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(st);
    int n = -1;
    db->last_ext = SQLITE_OK;
    if (rc == SQLITE_DONE) {
        n = sqlite3_changes(db->h);
    } else {
        db->last_ext = sqlite3_extended_errcode(db->h);
        dberr(db, err, errlen, what);
    }
    sqlite3_finalize(st);
    return n;
}

static bool is_constraint(struct vpndb *db, int ext)
{
    return db->last_ext == ext;
}

bool vpndb_hex_parse(const char *hex, uint8_t *out, size_t max, size_t *len)
{
    size_t n = strlen(hex);
    if (n >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
        n -= 2;
    }
    if (n == 0 || n % 2 || n / 2 > max)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            int c = hex[2 * i + k];
            if (!isxdigit(c))
                return false;
            v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
        }
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return true;
}

static bool nai_ok(const char *nai, char *err, size_t errlen)
{
    size_t n = nai ? strlen(nai) : 0;
    if (n == 0 || n > VPNDB_NAI_MAX)
        return errf(err, errlen, "NAI length must be 1-%d octets (RFC 7542 §2.2)", VPNDB_NAI_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)nai[i] <= ' ' || nai[i] == 0x7f)
            return errf(err, errlen, "NAI \"%s\": space or control character at offset %zu", nai,
                        i);
    return true;
}

static bool pool_name_ok(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > VPNDB_POOL_NAME_MAX)
        return errf(err, errlen, "pool name must be 1-%d characters", VPNDB_POOL_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
            return errf(err, errlen, "pool name \"%s\": only letters, digits, '-', '_', '.'", name);
    return true;
}

static bool exists(struct vpndb *db, const char *sql, const char *key, char *err, size_t errlen,
                   int *found)
{
    sqlite3_stmt *st = prep(db, sql, err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(db, err, errlen, "lookup");
    *found = rc == SQLITE_ROW;
    return true;
}

/* ---- users --------------------------------------------------------------------- */

void vpndb_user_clear(struct vpndb_user *u)
{
    OPENSSL_cleanse(u, sizeof(*u));
}

bool vpndb_user_validate(const struct vpndb_user *u, char *err, size_t errlen)
{
    if (!nai_ok(u->nai, err, errlen))
        return false;
    if (u->spi < 256)
        return errf(err, errlen, "user %s: MN-AAA SPI %u is reserved (RFC 5944 §3.5.1: 0-255)",
                    u->nai, (unsigned)u->spi);
    if (u->key_len < VPNDB_KEY_MIN || u->key_len > VPNDB_KEY_MAX)
        return errf(err, errlen, "user %s: MN-AAA key is %zu octets, must be %d-%d", u->nai,
                    u->key_len, VPNDB_KEY_MIN, VPNDB_KEY_MAX);
    if (u->ha.s_addr == 0)
        return errf(err, errlen, "user %s: home agent address missing (0.0.0.0)", u->nai);
    bool has_pool = u->pool[0] != '\0';
    if (has_pool == (u->hoa.s_addr != 0))
        return errf(err, errlen, "user %s: give exactly one of a static home address or a pool",
                    u->nai);
    if (has_pool && !pool_name_ok(u->pool, err, errlen))
        return false;
    return true;
}

static bool user_write(struct vpndb *db, const struct vpndb_user *u, bool update, char *err,
                       size_t errlen)
{
    if (!vpndb_user_validate(u, err, errlen))
        return false;
    if (u->pool[0]) {
        int found;
        if (!exists(db, "SELECT 1 FROM pools WHERE name = ?1", u->pool, err, errlen, &found))
            return false;
        if (!found)
            return errf(err, errlen, "user %s: no pool named \"%s\" (add it first)", u->nai,
                        u->pool);
    }
    sqlite3_stmt *st = prep(db,
                            update ? "UPDATE users SET spi = ?2, key = ?3, ha = ?4, hoa = ?5, "
                                     "pool = ?6 WHERE nai = ?1"
                                   : "INSERT INTO users(nai, spi, key, ha, hoa, pool) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, u->nai, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, u->spi);
    sqlite3_bind_blob(st, 3, u->key, (int)u->key_len, SQLITE_TRANSIENT);
    bind_addr(st, 4, u->ha);
    if (u->pool[0]) {
        sqlite3_bind_null(st, 5);
        sqlite3_bind_text(st, 6, u->pool, -1, SQLITE_TRANSIENT);
    } else {
        bind_addr(st, 5, u->hoa);
        sqlite3_bind_null(st, 6);
    }
    int n = exec_stmt(db, st, err, errlen, "writing user");
    if (n < 0) {
        if (is_constraint(db, SQLITE_CONSTRAINT_PRIMARYKEY))
            return errf(err, errlen, "user %s already exists", u->nai);
        return false;
    }
    if (n == 0)
        return errf(err, errlen, "no user %s", u->nai);
    return true;
}

bool vpndb_user_add(struct vpndb *db, const struct vpndb_user *u, char *err, size_t errlen)
{
    return user_write(db, u, false, err, errlen);
}

bool vpndb_user_update(struct vpndb *db, const struct vpndb_user *u, char *err, size_t errlen)
{
    return user_write(db, u, true, err, errlen);
}

#define USER_COLS "nai, spi, key, ha, hoa, pool"

static void user_row(sqlite3_stmt *st, struct vpndb_user *u)
{
    memset(u, 0, sizeof(*u));
    const char *s = (const char *)sqlite3_column_text(st, 0);
    snprintf(u->nai, sizeof(u->nai), "%s", s ? s : "");
    u->spi = (uint32_t)sqlite3_column_int64(st, 1);
    int kl = sqlite3_column_bytes(st, 2);
    const void *k = sqlite3_column_blob(st, 2);
    if (k && kl > 0 && kl <= VPNDB_KEY_MAX) {
        memcpy(u->key, k, (size_t)kl);
        u->key_len = (size_t)kl;
    }
    col_addr(st, 3, &u->ha);
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        col_addr(st, 4, &u->hoa);
    s = (const char *)sqlite3_column_text(st, 5);
    if (s)
        snprintf(u->pool, sizeof(u->pool), "%s", s);
}

int vpndb_user_get(struct vpndb *db, const char *nai, struct vpndb_user *out, char *err,
                   size_t errlen)
{
    sqlite3_stmt *st = prep(db, "SELECT " USER_COLS " FROM users WHERE nai = ?1", err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, nai, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        user_row(st, out);
        ret = 1;
    } else if (rc == SQLITE_DONE) {
        errf(err, errlen, "no user %s", nai);
        ret = 0;
    } else {
        dberr(db, err, errlen, "reading user");
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

bool vpndb_user_remove(struct vpndb *db, const char *nai, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM users WHERE nai = ?1", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, nai, -1, SQLITE_TRANSIENT);
    int n = exec_stmt(db, st, err, errlen, "removing user");
    if (n < 0)
        return false;
    if (n == 0)
        return errf(err, errlen, "no user %s", nai);
    return true;
}

bool vpndb_user_list(struct vpndb *db, vpndb_user_cb cb, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db, "SELECT " USER_COLS " FROM users ORDER BY nai", err, errlen);
    if (!st)
        return false;
    struct vpndb_user u;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        user_row(st, &u);
        cb(&u, arg);
        vpndb_user_clear(&u);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(db, err, errlen, "listing users");
    return true;
}

/* ---- profiles ---------------------------------------------------------------- */

bool vpndb_profile_validate(const struct vpn_profile *p, char *err, size_t errlen)
{
    if (p->number == 0)
        return errf(err, errlen, "profile 0: profile numbers start at 1");
    if (!p->nai)
        return errf(err, errlen, "profile %u: no NAI", (unsigned)p->number);
    if (!nai_ok(p->nai, err, errlen))
        return false;
    if (p->leg != VPN_LEG_NONE)
        return errf(err, errlen, "profile %u: a database profile has leg none, not %s",
                    (unsigned)p->number, vpn_leg_str(p->leg));
    return vpn_profile_validate(p, err, errlen);
}

static bool profile_write(struct vpndb *db, const struct vpn_profile *p, bool update, char *err,
                          size_t errlen)
{
    if (!vpndb_profile_validate(p, err, errlen))
        return false;
    sqlite3_stmt *st =
        prep(db,
             update ? "UPDATE vpn_profiles SET vpnshare = ?3, dst = ?4, dscp_up = ?5, "
                      "dscp_down = ?6, spi_up = ?7, spi_down = ?8, sec = ?9, enc = ?10, "
                      "integ = ?11, lifetime = ?12, key_up = ?13, key_down = ?14 "
                      "WHERE nai = ?1 AND num = ?2"
                    : "INSERT INTO vpn_profiles(nai, num, vpnshare, dst, dscp_up, dscp_down, "
                      "spi_up, spi_down, sec, enc, integ, lifetime, key_up, key_down) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
             err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, p->nai, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, p->number);
    sqlite3_bind_int(st, 3, p->vpnshare);
    bind_prefix(st, 4, p->dst);
    sqlite3_bind_int(st, 5, p->dscp_up);
    sqlite3_bind_int(st, 6, p->dscp_down);
    sqlite3_bind_int64(st, 7, p->spi_up);
    sqlite3_bind_int64(st, 8, p->spi_down);
    sqlite3_bind_int(st, 9, p->sec);
    sqlite3_bind_int(st, 10, p->enc_alg);
    sqlite3_bind_int(st, 11, p->integ_alg);
    sqlite3_bind_int64(st, 12, p->lifetime);
    if (p->has_keys) {
        sqlite3_bind_blob(st, 13, &p->key_up, sizeof(p->key_up), SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 14, &p->key_down, sizeof(p->key_down), SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, 13);
        sqlite3_bind_null(st, 14);
    }
    int n = exec_stmt(db, st, err, errlen, "writing profile");
    if (n < 0) {
        if (is_constraint(db, SQLITE_CONSTRAINT_PRIMARYKEY))
            return errf(err, errlen, "profile %u of %s already exists", (unsigned)p->number,
                        p->nai);
        if (is_constraint(db, SQLITE_CONSTRAINT_FOREIGNKEY))
            return errf(err, errlen, "profile %u: no user %s", (unsigned)p->number, p->nai);
        return false;
    }
    if (n == 0)
        return errf(err, errlen, "no profile %u of %s", (unsigned)p->number, p->nai);
    return true;
}

bool vpndb_profile_add(struct vpndb *db, const struct vpn_profile *p, char *err, size_t errlen)
{
    return profile_write(db, p, false, err, errlen);
}

bool vpndb_profile_update(struct vpndb *db, const struct vpn_profile *p, char *err, size_t errlen)
{
    return profile_write(db, p, true, err, errlen);
}

#define PROFILE_COLS                                                                               \
    "nai, num, vpnshare, dst, dscp_up, dscp_down, spi_up, spi_down, sec, enc, integ, "             \
    "lifetime, key_up, key_down"

static bool profile_row(sqlite3_stmt *st, struct vpn_profile *p)
{
    vpn_profile_init(p);
    if (!vpn_profile_set_nai(p, (const char *)sqlite3_column_text(st, 0)))
        return false;
    p->number = (uint32_t)sqlite3_column_int64(st, 1);
    p->vpnshare = (uint8_t)sqlite3_column_int(st, 2);
    col_prefix(st, 3, &p->dst);
    p->dscp_up = (uint8_t)sqlite3_column_int(st, 4);
    p->dscp_down = (uint8_t)sqlite3_column_int(st, 5);
    p->spi_up = (uint32_t)sqlite3_column_int64(st, 6);
    p->spi_down = (uint32_t)sqlite3_column_int64(st, 7);
    p->sec = (uint8_t)sqlite3_column_int(st, 8);
    p->enc_alg = (uint8_t)sqlite3_column_int(st, 9);
    p->integ_alg = (uint8_t)sqlite3_column_int(st, 10);
    p->lifetime = (uint32_t)sqlite3_column_int64(st, 11);
    if (sqlite3_column_bytes(st, 12) == (int)sizeof(p->key_up) &&
        sqlite3_column_bytes(st, 13) == (int)sizeof(p->key_down)) {
        memcpy(&p->key_up, sqlite3_column_blob(st, 12), sizeof(p->key_up));
        memcpy(&p->key_down, sqlite3_column_blob(st, 13), sizeof(p->key_down));
        p->has_keys = true;
    }
    return true;
}

int vpndb_profile_get(struct vpndb *db, const char *nai, uint32_t number, struct vpn_profile *out,
                      char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(
        db, "SELECT " PROFILE_COLS " FROM vpn_profiles WHERE nai = ?1 AND num = ?2", err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, nai, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, number);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        ret = profile_row(st, out) ? 1 : (errf(err, errlen, "out of memory"), -1);
    } else if (rc == SQLITE_DONE) {
        errf(err, errlen, "no profile %u of %s", (unsigned)number, nai);
        ret = 0;
    } else {
        dberr(db, err, errlen, "reading profile");
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

bool vpndb_profile_remove(struct vpndb *db, const char *nai, uint32_t number, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st =
        prep(db, "DELETE FROM vpn_profiles WHERE nai = ?1 AND num = ?2", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, nai, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, number);
    int n = exec_stmt(db, st, err, errlen, "removing profile");
    if (n < 0)
        return false;
    if (n == 0)
        return errf(err, errlen, "no profile %u of %s", (unsigned)number, nai);
    return true;
}

bool vpndb_profile_list(struct vpndb *db, const char *nai, vpndb_profile_cb cb, void *arg,
                        char *err, size_t errlen)
{
    sqlite3_stmt *st =
        prep(db,
             nai ? "SELECT " PROFILE_COLS " FROM vpn_profiles WHERE nai = ?1 ORDER BY num"
                 : "SELECT " PROFILE_COLS " FROM vpn_profiles ORDER BY nai, num",
             err, errlen);
    if (!st)
        return false;
    if (nai)
        sqlite3_bind_text(st, 1, nai, -1, SQLITE_TRANSIENT);
    struct vpn_profile p;
    int rc;
    bool ok = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!profile_row(st, &p)) {
            vpn_profile_clear(&p);
            ok = errf(err, errlen, "out of memory");
            break;
        }
        cb(&p, arg);
        vpn_profile_clear(&p);
    }
    sqlite3_finalize(st);
    if (ok && rc != SQLITE_DONE)
        return dberr(db, err, errlen, "listing profiles");
    return ok;
}

/* ---- CN-GW ------------------------------------------------------------------- */

bool vpndb_cngw_add(struct vpndb *db, const struct cngw_entry *e, char *err, size_t errlen)
{
    /* Let the in-memory table's checks speak for validity. */
    struct cngw_table *t = cngw_new();
    if (!t)
        return errf(err, errlen, "out of memory");
    bool ok = cngw_add(t, e, err, errlen);
    cngw_free(t);
    if (!ok)
        return false;
    sqlite3_stmt *st =
        prep(db, "INSERT INTO cngw(prefix, gw, type) VALUES (?1, ?2, ?3)", err, errlen);
    if (!st)
        return false;
    bind_prefix(st, 1, e->prefix);
    bind_addr(st, 2, e->gw);
    sqlite3_bind_text(st, 3, vpn_gw_type_str(e->type), -1, SQLITE_STATIC);
    if (exec_stmt(db, st, err, errlen, "adding CN-GW entry") < 0) {
        char b[20];
        if (is_constraint(db, SQLITE_CONSTRAINT_PRIMARYKEY))
            return errf(err, errlen, "CN-GW entry for %s already exists",
                        vpn_prefix_str(&e->prefix, b));
        return false;
    }
    return true;
}

bool vpndb_cngw_remove(struct vpndb *db, struct vpn_prefix prefix, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM cngw WHERE prefix = ?1", err, errlen);
    if (!st)
        return false;
    bind_prefix(st, 1, prefix);
    int n = exec_stmt(db, st, err, errlen, "removing CN-GW entry");
    if (n < 0)
        return false;
    if (n == 0) {
        char b[20];
        return errf(err, errlen, "no CN-GW entry for %s", vpn_prefix_str(&prefix, b));
    }
    return true;
}

bool vpndb_cngw_list(struct vpndb *db, vpndb_cngw_cb cb, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db, "SELECT prefix, gw, type FROM cngw", err, errlen);
    if (!st)
        return false;
    /* Order like cngw_foreach: through a table (address order, shorter first). */
    struct cngw_table *t = cngw_new();
    if (!t) {
        sqlite3_finalize(st);
        return errf(err, errlen, "out of memory");
    }
    int rc;
    bool ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cngw_entry e;
        enum vpn_gw_type ty;
        const char *ts = (const char *)sqlite3_column_text(st, 2);
        if (!col_prefix(st, 0, &e.prefix) || !col_addr(st, 1, &e.gw) || !ts ||
            !vpn_gw_type_parse(ts, &ty)) {
            ok = errf(err, errlen, "database: malformed CN-GW row %s",
                      (const char *)sqlite3_column_text(st, 0));
            break;
        }
        e.type = ty;
        ok = cngw_add(t, &e, err, errlen);
    }
    sqlite3_finalize(st);
    if (ok && rc != SQLITE_DONE)
        ok = dberr(db, err, errlen, "listing CN-GW entries");
    if (ok)
        cngw_foreach(t, (cngw_cb)cb, arg);
    cngw_free(t);
    return ok;
}

struct load_ctx {
    struct cngw_table *t;
    bool ok;
    char *err;
    size_t errlen;
};

static void load_one(const struct cngw_entry *e, void *arg)
{
    struct load_ctx *c = arg;
    if (c->ok)
        c->ok = cngw_add(c->t, e, c->err, c->errlen);
}

bool vpndb_cngw_load(struct vpndb *db, struct cngw_table *t, char *err, size_t errlen)
{
    struct load_ctx c = {t, true, err, errlen};
    if (!vpndb_cngw_list(db, load_one, &c, err, errlen))
        return false;
    return c.ok;
}

/* ---- default SAs --------------------------------------------------------------- */

void vpndb_defsa_clear(struct vpndb_defsa *s)
{
    OPENSSL_cleanse(s, sizeof(*s));
}

bool vpndb_defsa_validate(const struct vpndb_defsa *s, char *err, size_t errlen)
{
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &s->src, a, sizeof(a));
    inet_ntop(AF_INET, &s->dst, b, sizeof(b));
    if (s->src.s_addr == 0 || s->dst.s_addr == 0)
        return errf(err, errlen, "default SA %s -> %s: gateway address 0.0.0.0", a, b);
    if (s->src.s_addr == s->dst.s_addr)
        return errf(err, errlen, "default SA %s -> %s: both ends are the same gateway", a, b);
    if (s->sec == VPN_SEC_ENCAP)
        return errf(err, errlen, "default SA %s -> %s: security type must be esp or ah", a, b);
    /* Reuse the profile rules for algorithms and SPI. */
    struct vpn_profile p;
    vpn_profile_init(&p);
    p.sec = s->sec;
    p.enc_alg = s->enc_alg;
    p.integ_alg = s->integ_alg;
    p.spi_up = s->spi;
    p.spi_down = s->spi ^ 1; /* only the up SPI is under test */
    char e[VPN_ERR_MAX];
    if (!vpn_profile_validate(&p, e, sizeof(e))) {
        const char *why = strstr(e, ": ");
        return errf(err, errlen, "default SA %s -> %s: %s", a, b, why ? why + 2 : e);
    }
    if (!s->has_keys)
        return errf(err, errlen, "default SA %s -> %s: keys missing", a, b);
    return true;
}

bool vpndb_defsa_add(struct vpndb *db, const struct vpndb_defsa *s, char *err, size_t errlen)
{
    if (!vpndb_defsa_validate(s, err, errlen))
        return false;
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO default_sas(src_gw, dst_gw, spi, sec, enc, integ, keys) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            err, errlen);
    if (!st)
        return false;
    bind_addr(st, 1, s->src);
    bind_addr(st, 2, s->dst);
    sqlite3_bind_int64(st, 3, s->spi);
    sqlite3_bind_int(st, 4, s->sec);
    sqlite3_bind_int(st, 5, s->enc_alg);
    sqlite3_bind_int(st, 6, s->integ_alg);
    sqlite3_bind_blob(st, 7, &s->keys, sizeof(s->keys), SQLITE_TRANSIENT);
    if (exec_stmt(db, st, err, errlen, "adding default SA") < 0) {
        if (is_constraint(db, SQLITE_CONSTRAINT_PRIMARYKEY)) {
            char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &s->src, a, sizeof(a));
            inet_ntop(AF_INET, &s->dst, b, sizeof(b));
            return errf(err, errlen, "default SA %s -> %s already exists", a, b);
        }
        return false;
    }
    return true;
}

bool vpndb_defsa_remove(struct vpndb *db, struct in_addr src, struct in_addr dst, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st =
        prep(db, "DELETE FROM default_sas WHERE src_gw = ?1 AND dst_gw = ?2", err, errlen);
    if (!st)
        return false;
    bind_addr(st, 1, src);
    bind_addr(st, 2, dst);
    int n = exec_stmt(db, st, err, errlen, "removing default SA");
    if (n < 0)
        return false;
    if (n == 0) {
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &src, a, sizeof(a));
        inet_ntop(AF_INET, &dst, b, sizeof(b));
        return errf(err, errlen, "no default SA %s -> %s", a, b);
    }
    return true;
}

bool vpndb_defsa_list(struct vpndb *db, vpndb_defsa_cb cb, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db,
                            "SELECT src_gw, dst_gw, spi, sec, enc, integ, keys FROM default_sas "
                            "ORDER BY src_gw, dst_gw",
                            err, errlen);
    if (!st)
        return false;
    struct vpndb_defsa s;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&s, 0, sizeof(s));
        col_addr(st, 0, &s.src);
        col_addr(st, 1, &s.dst);
        s.spi = (uint32_t)sqlite3_column_int64(st, 2);
        s.sec = (uint8_t)sqlite3_column_int(st, 3);
        s.enc_alg = (uint8_t)sqlite3_column_int(st, 4);
        s.integ_alg = (uint8_t)sqlite3_column_int(st, 5);
        if (sqlite3_column_bytes(st, 6) == (int)sizeof(s.keys)) {
            memcpy(&s.keys, sqlite3_column_blob(st, 6), sizeof(s.keys));
            s.has_keys = true;
        }
        cb(&s, arg);
        vpndb_defsa_clear(&s);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(db, err, errlen, "listing default SAs");
    return true;
}

/* ---- pools ------------------------------------------------------------------- */

/* First and last allocatable host address (host order); false if none. */
static bool pool_range(struct vpn_prefix p, uint32_t *first, uint32_t *last)
{
    uint32_t net = ntohl(p.addr.s_addr);
    uint32_t size = p.len == 0 ? 0 : (uint32_t)1 << (32 - p.len); /* 0 = 2^32 */
    uint32_t hi = net + (size - 1);
    if (net == 0 && p.len == 32)
        return false; /* placeholder of a migrated v1 pool */
    if (p.len <= 30) {
        net++;
        hi--;
    }
    *first = net;
    *last = hi;
    return true;
}

bool vpndb_pool_add(struct vpndb *db, const char *name, struct vpn_prefix prefix, char *err,
                    size_t errlen)
{
    if (!pool_name_ok(name, err, errlen))
        return false;
    char b[20];
    uint32_t f, l;
    vpn_prefix_str(&prefix, b);
    if (prefix.len > 32 ||
        (prefix.len < 32 && (ntohl(prefix.addr.s_addr) & ((uint32_t)~0u >> prefix.len))))
        return errf(err, errlen, "pool %s: prefix %s has host bits set", name, b);
    if (prefix.len < 8 || !pool_range(prefix, &f, &l))
        return errf(err, errlen, "pool %s: prefix %s must be /8 to /32 and not 0.0.0.0", name, b);
    /* A migrated v1 pool has the 0.0.0.0/32 placeholder: adding it sets the prefix. */
    sqlite3_stmt *st = prep(db,
                            "INSERT INTO pools(name, prefix) VALUES (?1, ?2) ON CONFLICT(name) "
                            "DO UPDATE SET prefix = excluded.prefix WHERE prefix = '0.0.0.0/32'",
                            err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bind_prefix(st, 2, prefix);
    int n = exec_stmt(db, st, err, errlen, "adding pool");
    if (n < 0)
        return false;
    if (n == 0)
        return errf(err, errlen, "pool %s already exists", name);
    return true;
}

bool vpndb_pool_remove(struct vpndb *db, const char *name, char *err, size_t errlen)
{
    int found;
    if (!exists(db, "SELECT 1 FROM users WHERE pool = ?1", name, err, errlen, &found))
        return false;
    if (found)
        return errf(err, errlen, "pool %s is used by users: change them first", name);
    if (!exists(db, "SELECT 1 FROM pool_allocs WHERE pool = ?1", name, err, errlen, &found))
        return false;
    if (found)
        return errf(err, errlen, "pool %s has allocated addresses", name);
    sqlite3_stmt *st = prep(db, "DELETE FROM pools WHERE name = ?1", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int n = exec_stmt(db, st, err, errlen, "removing pool");
    if (n < 0) {
        /* ON DELETE RESTRICT reports as SQLITE_CONSTRAINT_TRIGGER */
        if (is_constraint(db, SQLITE_CONSTRAINT_FOREIGNKEY) ||
            is_constraint(db, SQLITE_CONSTRAINT_TRIGGER))
            return errf(err, errlen, "pool %s has allocated addresses", name);
        return false;
    }
    if (n == 0)
        return errf(err, errlen, "no pool %s", name);
    return true;
}

bool vpndb_pool_list(struct vpndb *db, vpndb_pool_cb cb, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db,
                            "SELECT name, prefix, (SELECT count(*) FROM pool_allocs a "
                            "WHERE a.pool = p.name) FROM pools p ORDER BY name",
                            err, errlen);
    if (!st)
        return false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vpn_prefix p;
        uint32_t f, l;
        col_prefix(st, 1, &p);
        unsigned size = pool_range(p, &f, &l) ? (unsigned)(l - f + 1) : 0;
        cb((const char *)sqlite3_column_text(st, 0), p, (unsigned)sqlite3_column_int(st, 2), size,
           arg);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(db, err, errlen, "listing pools");
    return true;
}

static bool txn(struct vpndb *db, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return dberr(db, err, errlen, sql);
    return true;
}

static bool pool_alloc_locked(struct vpndb *db, const char *pool, const char *session,
                              struct in_addr *out, char *err, size_t errlen)
{
    /* Same session again: same address. */
    sqlite3_stmt *st =
        prep(db, "SELECT pool, addr FROM pool_allocs WHERE session = ?1", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, session, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        bool same = strcmp((const char *)sqlite3_column_text(st, 0), pool) == 0;
        out->s_addr = htonl((uint32_t)sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
        if (!same)
            return errf(err, errlen, "session %s already holds an address of another pool",
                        session);
        return true;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(db, err, errlen, "reading allocations");

    st = prep(db, "SELECT prefix FROM pools WHERE name = ?1", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, pool, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    struct vpn_prefix p;
    bool have = rc == SQLITE_ROW && col_prefix(st, 0, &p);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(db, err, errlen, "reading pool");
    if (!have)
        return errf(err, errlen, "no pool %s", pool);
    uint32_t first, last;
    if (!pool_range(p, &first, &last))
        return errf(err, errlen, "pool %s has no prefix yet", pool);

    /* Lowest gap in the sorted allocations: O(allocations). */
    st = prep(db,
              "SELECT addr FROM pool_allocs WHERE pool = ?1 AND addr BETWEEN ?2 AND ?3 "
              "ORDER BY addr",
              err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, first);
    sqlite3_bind_int64(st, 3, last);
    uint64_t cand = first;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t a = (uint64_t)sqlite3_column_int64(st, 0);
        if (a != cand)
            break;
        cand++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(db, err, errlen, "reading allocations");
    if (cand > last) {
        char b[20];
        return errf(err, errlen, "pool %s (%s) exhausted: all %llu addresses allocated", pool,
                    vpn_prefix_str(&p, b), (unsigned long long)(last - first + 1));
    }
    st = prep(db, "INSERT INTO pool_allocs(pool, addr, session) VALUES (?1, ?2, ?3)", err, errlen);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cand);
    sqlite3_bind_text(st, 3, session, -1, SQLITE_TRANSIENT);
    if (exec_stmt(db, st, err, errlen, "allocating address") < 0)
        return false;
    out->s_addr = htonl((uint32_t)cand);
    return true;
}

bool vpndb_pool_alloc(struct vpndb *db, const char *pool, const char *session, struct in_addr *out,
                      char *err, size_t errlen)
{
    if (!session || !*session)
        return errf(err, errlen, "pool %s: empty session ID", pool);
    if (!txn(db, "BEGIN IMMEDIATE", err, errlen))
        return false;
    if (!pool_alloc_locked(db, pool, session, out, err, errlen)) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    return txn(db, "COMMIT", err, errlen);
}

int vpndb_pool_free(struct vpndb *db, const char *session, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM pool_allocs WHERE session = ?1", err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, session, -1, SQLITE_TRANSIENT);
    return exec_stmt(db, st, err, errlen, "freeing address");
}
