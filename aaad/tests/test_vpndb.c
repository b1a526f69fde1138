/* Unit tests of the VPN database (aaad/vpndb.h). Key wiping is not observable
 * from here and is not tested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vpndb.h"

struct fx {
    char dir[64];
    char path[96];
    struct vpndb *db;
};

static char err[VPNDB_ERR_MAX];

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct vpn_prefix pfx(const char *s)
{
    struct vpn_prefix p;
    assert_true(vpn_prefix_parse(s, &p));
    return p;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_vpndb.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/vpn.db", f->dir);
    *state = f;
    return 0;
}

static int setup_open(void **state)
{
    setup(state);
    struct fx *f = *state;
    f->db = vpndb_open(f->path, err, sizeof(err));
    assert_non_null(f->db);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vpndb_close(f->db);
    char b[128];
    snprintf(b, sizeof(b), "%s-journal", f->path);
    unlink(b);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void mk_user(struct vpndb_user *u, const char *nai, const char *hoa, const char *pool)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->nai, sizeof(u->nai), "%s", nai);
    u->spi = 1000;
    u->key_len = 16;
    for (size_t i = 0; i < 16; i++)
        u->key[i] = (uint8_t)(0xa0 + i);
    u->ha = ip("192.0.2.1");
    if (hoa)
        u->hoa = ip(hoa);
    if (pool)
        snprintf(u->pool, sizeof(u->pool), "%s", pool);
}

static void mk_profile(struct vpn_profile *p, const char *nai, uint32_t num, const char *dst)
{
    vpn_profile_init(p);
    assert_true(vpn_profile_set_nai(p, nai));
    p->number = num;
    p->dst = pfx(dst);
    p->dscp_up = 46;
    p->dscp_down = 34;
    p->spi_up = 0x1000 + num;
    p->spi_down = 0x2000 + num;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_open_mode_version(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(vpndb_schema_version(f->db), VPNDB_SCHEMA_VERSION);
    vpndb_close(f->db);
    /* A loose mode is tightened at open. */
    chmod(f->path, 0644);
    f->db = vpndb_open(f->path, err, sizeof(err));
    assert_non_null(f->db);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(vpndb_schema_version(f->db), VPNDB_SCHEMA_VERSION);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_null(vpndb_open(f->path, err, sizeof(err)));
    assert_non_null(strstr(err, "schema version 99 is newer"));
}

static void test_not_a_database(void **state)
{
    struct fx *f = *state;
    FILE *fp = fopen(f->path, "w");
    fputs("this is not sqlite, definitely not, long enough to have a header.........\n", fp);
    fclose(fp);
    assert_null(vpndb_open(f->path, err, sizeof(err)));
    assert_non_null(strstr(err, f->path));
}

struct collect {
    int n;
    char names[8][VPNDB_NAI_MAX + 1];
};

static void collect_user(const struct vpndb_user *u, void *arg)
{
    struct collect *c = arg;
    snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", u->nai);
    assert_int_equal(u->key_len, 16);
}

static void test_users(void **state)
{
    struct fx *f = *state;
    struct vpndb_user u, g;
    assert_true(vpndb_pool_add(f->db, "home", pfx("10.10.0.0/24"), err, sizeof(err)));
    mk_user(&u, "bob@example.com", NULL, "home");
    assert_true(vpndb_user_add(f->db, &u, err, sizeof(err)));
    mk_user(&u, "alice@example.com", "10.10.0.100", NULL);
    assert_true(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_string_equal(err, "user alice@example.com already exists");

    assert_int_equal(vpndb_user_get(f->db, "alice@example.com", &g, err, sizeof(err)), 1);
    assert_int_equal(g.spi, 1000);
    assert_int_equal(g.key_len, 16);
    assert_memory_equal(g.key, u.key, 16);
    assert_int_equal(g.ha.s_addr, ip("192.0.2.1").s_addr);
    assert_int_equal(g.hoa.s_addr, ip("10.10.0.100").s_addr);
    assert_string_equal(g.pool, "");
    vpndb_user_clear(&g);
    assert_int_equal(vpndb_user_get(f->db, "bob@example.com", &g, err, sizeof(err)), 1);
    assert_string_equal(g.pool, "home");
    assert_int_equal(g.hoa.s_addr, 0);
    assert_int_equal(vpndb_user_get(f->db, "carol@example.com", &g, err, sizeof(err)), 0);
    assert_string_equal(err, "no user carol@example.com");

    struct collect c = {0};
    assert_true(vpndb_user_list(f->db, collect_user, &c, err, sizeof(err)));
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "alice@example.com");
    assert_string_equal(c.names[1], "bob@example.com");

    /* update: move alice to the pool, new SPI */
    u.hoa.s_addr = 0;
    snprintf(u.pool, sizeof(u.pool), "home");
    u.spi = 4242;
    assert_true(vpndb_user_update(f->db, &u, err, sizeof(err)));
    assert_int_equal(vpndb_user_get(f->db, "alice@example.com", &g, err, sizeof(err)), 1);
    assert_int_equal(g.spi, 4242);
    assert_string_equal(g.pool, "home");
    mk_user(&g, "nobody@example.com", "10.0.0.1", NULL);
    assert_false(vpndb_user_update(f->db, &g, err, sizeof(err)));
    assert_string_equal(err, "no user nobody@example.com");

    assert_false(vpndb_pool_remove(f->db, "home", err, sizeof(err)));
    assert_string_equal(err, "pool home is used by users: change them first");

    assert_true(vpndb_user_remove(f->db, "bob@example.com", err, sizeof(err)));
    assert_false(vpndb_user_remove(f->db, "bob@example.com", err, sizeof(err)));
    assert_string_equal(err, "no user bob@example.com");
    vpndb_user_clear(&u);
    vpndb_user_clear(&g);
}

static void test_user_validation(void **state)
{
    struct fx *f = *state;
    struct vpndb_user u;
    mk_user(&u, "a@b", "10.0.0.1", NULL);
    u.spi = 255;
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_string_equal(err, "user a@b: MN-AAA SPI 255 is reserved (RFC 5944 §3.5.1: 0-255)");
    mk_user(&u, "a@b", "10.0.0.1", NULL);
    u.key_len = 8;
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_string_equal(err, "user a@b: MN-AAA key is 8 octets, must be 16-64");
    mk_user(&u, "a@b", "10.0.0.1", "home");
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one of a static home address or a pool"));
    mk_user(&u, "a@b", NULL, NULL);
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one"));
    mk_user(&u, "a@b", NULL, "missing");
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_string_equal(err, "user a@b: no pool named \"missing\" (add it first)");
    mk_user(&u, "a b", "10.0.0.1", NULL);
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_non_null(strstr(err, "space or control character"));
    mk_user(&u, "", "10.0.0.1", NULL);
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_non_null(strstr(err, "NAI length"));
    mk_user(&u, "a@b", "10.0.0.1", NULL);
    u.ha.s_addr = 0;
    assert_false(vpndb_user_add(f->db, &u, err, sizeof(err)));
    assert_string_equal(err, "user a@b: home agent address missing (0.0.0.0)");
}

struct pcollect {
    int n;
    uint32_t num[8];
    bool keys[8];
};

static void collect_profile(const struct vpn_profile *p, void *arg)
{
    struct pcollect *c = arg;
    c->keys[c->n] = p->has_keys;
    c->num[c->n++] = p->number;
}

static void test_profiles(void **state)
{
    struct fx *f = *state;
    struct vpndb_user u;
    struct vpn_profile p, g;
    mk_user(&u, "alice@example.com", "10.10.0.100", NULL);
    assert_true(vpndb_user_add(f->db, &u, err, sizeof(err)));

    mk_profile(&p, "nobody@example.com", 1, "172.16.50.0/24");
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "profile 1: no user nobody@example.com");
    vpn_profile_clear(&p);

    /* profile 2 with SLA keys, profile 1 without; listed in number order */
    mk_profile(&p, "alice@example.com", 2, "172.20.5.0/24");
    assert_true(vpn_profile_generate_keys(&p));
    assert_true(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "profile 2 of alice@example.com already exists");
    assert_int_equal(vpndb_profile_get(f->db, "alice@example.com", 2, &g, err, sizeof(err)), 1);
    assert_true(g.has_keys);
    assert_memory_equal(&g.key_up, &p.key_up, sizeof(p.key_up));
    assert_memory_equal(&g.key_down, &p.key_down, sizeof(p.key_down));
    assert_int_equal(g.dst.addr.s_addr, p.dst.addr.s_addr);
    assert_int_equal(g.dst.len, 24);
    assert_int_equal(g.dscp_up, 46);
    assert_int_equal(g.dscp_down, 34);
    assert_int_equal(g.spi_up, 0x1002);
    assert_int_equal(g.spi_down, 0x2002);
    assert_int_equal(g.enc_alg, VPN_ENC_AES_CBC_128);
    assert_int_equal(g.integ_alg, VPN_INTEG_HMAC_SHA256);
    assert_string_equal(g.nai, "alice@example.com");
    vpn_profile_clear(&g);
    vpn_profile_clear(&p);

    mk_profile(&p, "alice@example.com", 1, "172.16.50.0/24");
    p.sec = VPN_SEC_AH;
    p.enc_alg = VPN_ENC_NULL;
    p.lifetime = 3600;
    assert_true(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    struct pcollect c = {0};
    assert_true(
        vpndb_profile_list(f->db, "alice@example.com", collect_profile, &c, err, sizeof(err)));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.num[0], 1);
    assert_false(c.keys[0]);
    assert_int_equal(c.num[1], 2);
    assert_true(c.keys[1]);

    /* update */
    p.dscp_down = 10;
    p.lifetime = 60;
    assert_true(vpndb_profile_update(f->db, &p, err, sizeof(err)));
    assert_int_equal(vpndb_profile_get(f->db, "alice@example.com", 1, &g, err, sizeof(err)), 1);
    assert_int_equal(g.dscp_down, 10);
    assert_int_equal(g.lifetime, 60);
    assert_int_equal(g.sec, VPN_SEC_AH);
    vpn_profile_clear(&g);
    p.number = 9;
    assert_false(vpndb_profile_update(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "no profile 9 of alice@example.com");
    vpn_profile_clear(&p);

    assert_true(vpndb_profile_remove(f->db, "alice@example.com", 1, err, sizeof(err)));
    assert_false(vpndb_profile_remove(f->db, "alice@example.com", 1, err, sizeof(err)));
    assert_string_equal(err, "no profile 1 of alice@example.com");

    /* removing the user removes the profiles */
    assert_true(vpndb_user_remove(f->db, "alice@example.com", err, sizeof(err)));
    memset(&c, 0, sizeof(c));
    assert_true(vpndb_profile_list(f->db, NULL, collect_profile, &c, err, sizeof(err)));
    assert_int_equal(c.n, 0);
    vpndb_user_clear(&u);
}

static void test_profile_validation(void **state)
{
    struct fx *f = *state;
    struct vpndb_user u;
    struct vpn_profile p;
    mk_user(&u, "alice@example.com", "10.10.0.100", NULL);
    assert_true(vpndb_user_add(f->db, &u, err, sizeof(err)));

    mk_profile(&p, "alice@example.com", 3, "172.16.50.0/24");
    p.dscp_up = 70;
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "profile 3: DSCP up 70 out of range 0-63 (RFC 2474)");
    p.dscp_up = 46;
    p.spi_down = p.spi_up;
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_non_null(strstr(err, "profile 3: SPI up and down are both"));
    p.spi_down = 0x2003;
    p.number = 0;
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "profile 0: profile numbers start at 1");
    p.number = 3;
    p.leg = VPN_LEG_FA_HA;
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_string_equal(err, "profile 3: a database profile has leg none, not fa-ha");
    p.leg = VPN_LEG_NONE;
    p.enc_alg = VPN_ENC_AES_GCM_128;
    assert_false(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    assert_non_null(strstr(err, "combined mode"));
    p.enc_alg = VPN_ENC_AES_CBC_128;
    /* vpnshare 0 with SPI 0 = the default SA: valid, no keys */
    p.vpnshare = 0;
    p.spi_up = p.spi_down = 0;
    assert_true(vpndb_profile_add(f->db, &p, err, sizeof(err)));
    vpn_profile_clear(&p);
    vpndb_user_clear(&u);
}

/* A database as schema version 1 wrote it, before sec/algorithms/pools existed. */
static void test_migration_from_v1(void **state)
{
    struct fx *f = *state;
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    const char *v1 =
        "CREATE TABLE users(nai TEXT PRIMARY KEY NOT NULL, spi INTEGER NOT NULL,"
        " key BLOB NOT NULL, ha TEXT NOT NULL, hoa TEXT, pool TEXT);"
        "CREATE TABLE vpn_profiles(nai TEXT NOT NULL REFERENCES users(nai) ON DELETE CASCADE"
        " ON UPDATE CASCADE, num INTEGER NOT NULL, vpnshare INTEGER NOT NULL, dst TEXT NOT NULL,"
        " dscp_up INTEGER NOT NULL, dscp_down INTEGER NOT NULL, spi_up INTEGER NOT NULL,"
        " spi_down INTEGER NOT NULL, PRIMARY KEY(nai, num));"
        "CREATE TABLE cngw(prefix TEXT PRIMARY KEY NOT NULL, gw TEXT NOT NULL,"
        " type TEXT NOT NULL CHECK(type IN ('static','dynamic')));"
        "INSERT INTO users VALUES('alice@example.com', 1000,"
        " x'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', '192.0.2.1', '10.10.0.100', NULL);"
        "INSERT INTO users VALUES('bob@example.com', 1001,"
        " x'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', '192.0.2.1', NULL, 'dyn');"
        "INSERT INTO vpn_profiles VALUES('alice@example.com', 1, 1, '172.16.50.0/24', 46, 34,"
        " 4097, 8193);"
        "INSERT INTO cngw VALUES('172.16.50.0/24', '198.51.100.50', 'static');"
        "PRAGMA user_version = 1;";
    assert_int_equal(sqlite3_exec(h, v1, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    f->db = vpndb_open(f->path, err, sizeof(err));
    assert_non_null(f->db);
    assert_int_equal(vpndb_schema_version(f->db), 2);

    struct vpn_profile p;
    assert_int_equal(vpndb_profile_get(f->db, "alice@example.com", 1, &p, err, sizeof(err)), 1);
    assert_int_equal(p.sec, VPN_SEC_ESP);
    assert_int_equal(p.enc_alg, VPN_ENC_AES_CBC_128);
    assert_int_equal(p.integ_alg, VPN_INTEG_HMAC_SHA256);
    assert_int_equal(p.lifetime, 0);
    assert_false(p.has_keys);
    assert_int_equal(p.spi_up, 4097);
    assert_true(vpndb_profile_validate(&p, err, sizeof(err)));
    vpn_profile_clear(&p);

    /* bob's v1 pool exists now, without a prefix until someone sets it */
    struct in_addr a;
    assert_false(vpndb_pool_alloc(f->db, "dyn", "s1", &a, err, sizeof(err)));
    assert_string_equal(err, "pool dyn has no prefix yet");
    assert_true(vpndb_pool_add(f->db, "dyn", pfx("10.20.0.0/24"), err, sizeof(err)));
    assert_true(vpndb_pool_alloc(f->db, "dyn", "s1", &a, err, sizeof(err)));
    assert_int_equal(a.s_addr, ip("10.20.0.1").s_addr);
    assert_false(vpndb_pool_add(f->db, "dyn", pfx("10.30.0.0/24"), err, sizeof(err)));
    assert_string_equal(err, "pool dyn already exists");

    /* reopening is a no-op */
    vpndb_close(f->db);
    f->db = vpndb_open(f->path, err, sizeof(err));
    assert_non_null(f->db);
    assert_int_equal(vpndb_schema_version(f->db), 2);
}

static void test_pools(void **state)
{
    struct fx *f = *state;
    struct in_addr a, b, c;
    assert_true(vpndb_pool_add(f->db, "tiny", pfx("10.9.0.0/30"), err, sizeof(err)));
    assert_false(vpndb_pool_add(f->db, "bad name", pfx("10.9.1.0/30"), err, sizeof(err)));
    assert_non_null(strstr(err, "only letters"));
    struct vpn_prefix bad = {ip("10.9.1.1"), 24};
    assert_false(vpndb_pool_add(f->db, "x", bad, err, sizeof(err)));
    assert_string_equal(err, "pool x: prefix 10.9.1.1/24 has host bits set");

    assert_true(vpndb_pool_alloc(f->db, "tiny", "s1", &a, err, sizeof(err)));
    assert_int_equal(a.s_addr, ip("10.9.0.1").s_addr);
    assert_true(vpndb_pool_alloc(f->db, "tiny", "s2", &b, err, sizeof(err)));
    assert_int_equal(b.s_addr, ip("10.9.0.2").s_addr);
    assert_true(vpndb_pool_alloc(f->db, "tiny", "s1", &c, err, sizeof(err)));
    assert_int_equal(c.s_addr, a.s_addr); /* idempotent */
    assert_false(vpndb_pool_alloc(f->db, "tiny", "s3", &c, err, sizeof(err)));
    assert_string_equal(err, "pool tiny (10.9.0.0/30) exhausted: all 2 addresses allocated");
    assert_false(vpndb_pool_alloc(f->db, "nope", "s4", &c, err, sizeof(err)));
    assert_string_equal(err, "no pool nope");

    assert_false(vpndb_pool_remove(f->db, "tiny", err, sizeof(err)));
    assert_string_equal(err, "pool tiny has allocated addresses");

    assert_int_equal(vpndb_pool_free(f->db, "s1", err, sizeof(err)), 1);
    assert_int_equal(vpndb_pool_free(f->db, "s1", err, sizeof(err)), 0);
    assert_true(vpndb_pool_alloc(f->db, "tiny", "s3", &c, err, sizeof(err)));
    assert_int_equal(c.s_addr, ip("10.9.0.1").s_addr); /* the freed one */
    assert_int_equal(vpndb_pool_free(f->db, "s2", err, sizeof(err)), 1);
    assert_int_equal(vpndb_pool_free(f->db, "s3", err, sizeof(err)), 1);
    assert_true(vpndb_pool_remove(f->db, "tiny", err, sizeof(err)));

    /* a /32 pool has exactly its one address */
    assert_true(vpndb_pool_add(f->db, "one", pfx("10.9.9.9/32"), err, sizeof(err)));
    assert_true(vpndb_pool_alloc(f->db, "one", "s5", &c, err, sizeof(err)));
    assert_int_equal(c.s_addr, ip("10.9.9.9").s_addr);
    assert_false(vpndb_pool_alloc(f->db, "one", "s6", &c, err, sizeof(err)));
}

static void test_cngw(void **state)
{
    struct fx *f = *state;
    struct cngw_entry e = {pfx("172.16.50.0/24"), ip("198.51.100.50"), VPN_GW_STATIC};
    assert_true(vpndb_cngw_add(f->db, &e, err, sizeof(err)));
    assert_false(vpndb_cngw_add(f->db, &e, err, sizeof(err)));
    assert_string_equal(err, "CN-GW entry for 172.16.50.0/24 already exists");
    e = (struct cngw_entry){pfx("172.16.0.0/16"), ip("198.51.100.60"), VPN_GW_STATIC};
    assert_true(vpndb_cngw_add(f->db, &e, err, sizeof(err)));
    e = (struct cngw_entry){pfx("172.20.0.0/16"), ip("198.51.100.70"), VPN_GW_DYNAMIC};
    assert_true(vpndb_cngw_add(f->db, &e, err, sizeof(err)));
    e = (struct cngw_entry){pfx("172.21.0.0/16"), ip("0.0.0.0"), VPN_GW_DYNAMIC};
    assert_false(vpndb_cngw_add(f->db, &e, err, sizeof(err)));

    struct cngw_table *t = cngw_new();
    assert_true(vpndb_cngw_load(f->db, t, err, sizeof(err)));
    assert_int_equal(cngw_count(t), 3);
    const struct cngw_entry *m = cngw_lookup(t, ip("172.16.50.7"));
    assert_non_null(m);
    assert_int_equal(m->gw.s_addr, ip("198.51.100.50").s_addr);
    m = cngw_lookup(t, ip("172.16.9.9"));
    assert_non_null(m);
    assert_int_equal(m->gw.s_addr, ip("198.51.100.60").s_addr);
    m = cngw_lookup_prefix(t, pfx("172.20.5.0/24"));
    assert_non_null(m);
    assert_int_equal(m->type, VPN_GW_DYNAMIC);
    assert_null(cngw_lookup(t, ip("8.8.8.8")));
    cngw_free(t);

    assert_true(vpndb_cngw_remove(f->db, pfx("172.16.50.0/24"), err, sizeof(err)));
    assert_false(vpndb_cngw_remove(f->db, pfx("172.16.50.0/24"), err, sizeof(err)));
    assert_string_equal(err, "no CN-GW entry for 172.16.50.0/24");
    t = cngw_new();
    assert_true(vpndb_cngw_load(f->db, t, err, sizeof(err)));
    m = cngw_lookup(t, ip("172.16.50.7"));
    assert_int_equal(m->gw.s_addr, ip("198.51.100.60").s_addr);
    cngw_free(t);
}

static void collect_defsa(const struct vpndb_defsa *s, void *arg)
{
    struct vpndb_defsa *out = arg;
    *out = *s;
}

static void test_defsa(void **state)
{
    struct fx *f = *state;
    struct vpndb_defsa s = {0}, g = {0};
    s.src = ip("192.0.2.1");
    s.dst = ip("198.51.100.50");
    s.spi = 4096;
    s.sec = VPN_SEC_ESP;
    s.enc_alg = VPN_ENC_AES_CBC_128;
    s.integ_alg = VPN_INTEG_HMAC_SHA256;
    assert_false(vpndb_defsa_add(f->db, &s, err, sizeof(err)));
    assert_string_equal(err, "default SA 192.0.2.1 -> 198.51.100.50: keys missing");
    memset(s.keys.enc, 0x11, 16);
    memset(s.keys.integ, 0x22, 32);
    s.has_keys = true;
    s.spi = 100;
    assert_false(vpndb_defsa_add(f->db, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "default SA 192.0.2.1 -> 198.51.100.50: SPI up 100 is reserved"));
    s.spi = 4096;
    assert_true(vpndb_defsa_add(f->db, &s, err, sizeof(err)));
    assert_false(vpndb_defsa_add(f->db, &s, err, sizeof(err)));
    assert_string_equal(err, "default SA 192.0.2.1 -> 198.51.100.50 already exists");
    assert_true(vpndb_defsa_list(f->db, collect_defsa, &g, err, sizeof(err)));
    assert_int_equal(g.spi, 4096);
    assert_true(g.has_keys);
    assert_memory_equal(&g.keys, &s.keys, sizeof(s.keys));
    assert_true(vpndb_defsa_remove(f->db, s.src, s.dst, err, sizeof(err)));
    assert_false(vpndb_defsa_remove(f->db, s.src, s.dst, err, sizeof(err)));
    assert_string_equal(err, "no default SA 192.0.2.1 -> 198.51.100.50");
    vpndb_defsa_clear(&s);
    vpndb_defsa_clear(&g);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t b[4];
    size_t n;
    assert_true(vpndb_hex_parse("0xA0b1", b, sizeof(b), &n));
    assert_int_equal(n, 2);
    assert_int_equal(b[0], 0xa0);
    assert_int_equal(b[1], 0xb1);
    assert_false(vpndb_hex_parse("abc", b, sizeof(b), &n));
    assert_false(vpndb_hex_parse("zz", b, sizeof(b), &n));
    assert_false(vpndb_hex_parse("0011223344", b, sizeof(b), &n));
    assert_false(vpndb_hex_parse("", b, sizeof(b), &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_mode_version, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_user_validation, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_profiles, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_profile_validation, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pools, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_cngw, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_defsa, setup_open, teardown),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
