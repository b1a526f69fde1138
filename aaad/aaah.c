/* AAAH decision logic: see aaah.h and aaad/README.md "AAAH decision logic". */
#include "aaah.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cngw.h"
#include "mip_proto.h"
#include "path.h"
#include "vpn_hash.h"

#define DEF_SPI_MIN 0x10000u
#define DEF_SPI_MAX 0x7fffffffu
#define DEF_MAX_LIFETIME 3600u

/* Per-session state the VPN information cache does not hold. */
struct asess {
    char *sid;
    char *nai;
    char *pool_key; /* session ID the pool address is bound to (NULL: static HoA) */
    struct in_addr hoa, ha, fa;
    unsigned n_plain;
    uint32_t generation;
    uint32_t *spis; /* every SPI this session holds from the allocator */
    unsigned n_spis, cap_spis;
    struct aaah_keys keys;
    struct asess *next_nai;    /* hash chain by NAI */
    struct asess *prev, *next; /* list of all */
};

struct aaah {
    struct vpndb *db;
    struct aaah_config cfg;
    struct cngw_table *cngw;
    struct vpn_cache *cache_ha; /* per session: the HA's profiles (incl. the PCNs') */
    struct vpn_cache *cache_fa; /* per session: the FA's profiles */
    struct asess **buckets;
    size_t n_buckets, count;
    struct asess *head;
    uint8_t hkey[16];
    uint32_t spi_next;
    bool spi_wrapped;
    struct asess *alloc_for; /* session collecting SPIs during vpn_path_decide */
};

/* ---- session table ----------------------------------------------------------- */

static size_t bucket_of(const struct aaah *a, const char *nai)
{
    return (size_t)(vpn_siphash(a->hkey, nai, strlen(nai)) & (a->n_buckets - 1));
}

static struct asess *find_nai(const struct aaah *a, const char *nai)
{
    for (struct asess *s = a->buckets[bucket_of(a, nai)]; s; s = s->next_nai)
        if (!strcmp(s->nai, nai))
            return s;
    return NULL;
}

static bool grow(struct aaah *a)
{
    size_t n = a->n_buckets * 2;
    struct asess **b = calloc(n, sizeof(*b));
    if (!b)
        return false;
    free(a->buckets);
    a->buckets = b;
    a->n_buckets = n;
    for (struct asess *s = a->head; s; s = s->next) {
        size_t i = bucket_of(a, s->nai);
        s->next_nai = b[i];
        b[i] = s;
    }
    return true;
}

static bool link_sess(struct aaah *a, struct asess *s)
{
    if (a->count + 1 > a->n_buckets && !grow(a))
        return false;
    size_t i = bucket_of(a, s->nai);
    s->next_nai = a->buckets[i];
    a->buckets[i] = s;
    s->prev = NULL;
    s->next = a->head;
    if (a->head)
        a->head->prev = s;
    a->head = s;
    a->count++;
    return true;
}

static void unlink_sess(struct aaah *a, struct asess *s)
{
    struct asess **pp = &a->buckets[bucket_of(a, s->nai)];
    while (*pp && *pp != s)
        pp = &(*pp)->next_nai;
    if (*pp)
        *pp = s->next_nai;
    if (s->prev)
        s->prev->next = s->next;
    else
        a->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    a->count--;
}

static void free_sess(struct asess *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(&s->keys, sizeof(s->keys));
    free(s->sid);
    free(s->nai);
    free(s->pool_key);
    free(s->spis);
    free(s);
}

/* ---- SPI allocator ----------------------------------------------------------- */

static bool holds_spi(const struct asess *s, uint32_t spi)
{
    for (unsigned i = 0; i < s->n_spis; i++)
        if (s->spis[i] == spi)
            return true;
    return false;
}

/* Whether spi is held by a live session or by s (which may not be linked yet). */
static bool spi_live(const struct aaah *a, const struct asess *s, uint32_t spi)
{
    for (const struct asess *t = a->head; t; t = t->next)
        if (holds_spi(t, spi))
            return true;
    return holds_spi(s, spi);
}

static void spi_release(struct asess *s, uint32_t spi)
{
    for (unsigned i = 0; i < s->n_spis; i++)
        if (s->spis[i] == spi) {
            s->spis[i] = s->spis[--s->n_spis];
            return;
        }
}

/* Hands out SPIs in order; after the first wrap-around each candidate is
 * checked against every live session's SPIs. */
static bool spi_alloc1(struct aaah *a, struct asess *s, uint32_t *out)
{
    uint64_t range = (uint64_t)a->cfg.spi_max - a->cfg.spi_min + 1;
    for (uint64_t tries = 0; tries < range; tries++) {
        uint32_t c = a->spi_next;
        if (a->spi_next == a->cfg.spi_max) {
            a->spi_next = a->cfg.spi_min;
            a->spi_wrapped = true;
        } else {
            a->spi_next++;
        }
        if (a->spi_wrapped && spi_live(a, s, c))
            continue;
        if (s->n_spis == s->cap_spis) {
            unsigned cap = s->cap_spis ? 2 * s->cap_spis : 8;
            uint32_t *n = realloc(s->spis, cap * sizeof(*n));
            if (!n)
                return false;
            s->spis = n;
            s->cap_spis = cap;
        }
        s->spis[s->n_spis++] = c;
        *out = c;
        return true;
    }
    return false;
}

static bool path_alloc_spi(void *arg, uint32_t *up, uint32_t *down)
{
    struct aaah *a = arg;
    return spi_alloc1(a, a->alloc_for, up) && spi_alloc1(a, a->alloc_for, down);
}

/* ---- lifecycle --------------------------------------------------------------- */

struct aaah *aaah_new(struct vpndb *db, const struct aaah_config *cfg, char *err, size_t errlen)
{
    struct aaah *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "aaah: out of memory");
        return NULL;
    }
    a->db = db;
    if (cfg)
        a->cfg = *cfg;
    if (!a->cfg.spi_min && !a->cfg.spi_max) {
        a->cfg.spi_min = DEF_SPI_MIN;
        a->cfg.spi_max = DEF_SPI_MAX;
    }
    if (!a->cfg.max_lifetime)
        a->cfg.max_lifetime = DEF_MAX_LIFETIME;
    if (a->cfg.spi_min < VPN_SPI_MIN || a->cfg.spi_max < a->cfg.spi_min) {
        snprintf(err, errlen, "aaah: SPI range %u-%u invalid (SPIs start at %u, RFC 4303 §2.1)",
                 a->cfg.spi_min, a->cfg.spi_max, VPN_SPI_MIN);
        free(a);
        return NULL;
    }
    a->spi_next = a->cfg.spi_min;
    a->n_buckets = 64;
    a->buckets = calloc(a->n_buckets, sizeof(*a->buckets));
    a->cache_ha = vpn_cache_new();
    a->cache_fa = vpn_cache_new();
    if (!a->buckets || !a->cache_ha || !a->cache_fa || RAND_bytes(a->hkey, sizeof(a->hkey)) != 1) {
        snprintf(err, errlen, "aaah: out of memory or no randomness");
        aaah_free(a);
        return NULL;
    }
    if (!aaah_reload_cngw(a, err, errlen)) {
        aaah_free(a);
        return NULL;
    }
    return a;
}

bool aaah_reload_cngw(struct aaah *a, char *err, size_t errlen)
{
    struct cngw_table *t = cngw_new();
    if (!t) {
        snprintf(err, errlen, "aaah: out of memory");
        return false;
    }
    char e[VPNDB_ERR_MAX];
    if (!vpndb_cngw_load(a->db, t, e, sizeof(e))) {
        snprintf(err, errlen, "aaah: CN-GW table: %s", e);
        cngw_free(t);
        return false;
    }
    cngw_free(a->cngw);
    a->cngw = t;
    return true;
}

static void end_sess(struct aaah *a, struct asess *s, bool remove_cache)
{
    if (remove_cache)
        vpn_cache_remove_id(a->cache_ha, s->sid);
    vpn_cache_remove_id(a->cache_fa, s->sid);
    if (s->pool_key) {
        char e[VPNDB_ERR_MAX];
        (void)vpndb_pool_free(a->db, s->pool_key, e, sizeof(e));
    }
    unlink_sess(a, s);
    free_sess(s);
}

void aaah_free(struct aaah *a)
{
    if (!a)
        return;
    while (a->head)
        end_sess(a, a->head, false);
    vpn_cache_free(a->cache_ha);
    vpn_cache_free(a->cache_fa);
    cngw_free(a->cngw);
    free(a->buckets);
    OPENSSL_cleanse(a->hkey, sizeof(a->hkey));
    free(a);
}

size_t aaah_session_count(const struct aaah *a)
{
    return a->count;
}

const struct vpn_cache *aaah_cache_ha(const struct aaah *a)
{
    return a->cache_ha;
}

const struct vpn_cache *aaah_cache_fa(const struct aaah *a)
{
    return a->cache_fa;
}

bool aaah_session_end(struct aaah *a, const char *session_id)
{
    struct vpn_session *vs = vpn_cache_find(a->cache_ha, session_id);
    if (!vs || !vs->nai)
        return false;
    struct asess *s = find_nai(a, vs->nai);
    if (!s || strcmp(s->sid, session_id))
        return false;
    end_sess(a, s, true);
    return true;
}

bool aaah_session_end_nai(struct aaah *a, const char *nai)
{
    struct asess *s = find_nai(a, nai);
    if (!s)
        return false;
    end_sess(a, s, true);
    return true;
}

void aaah_foreach_session(const struct aaah *a, aaah_session_cb cb, void *arg)
{
    for (const struct asess *s = a->head; s; s = s->next) {
        const struct vpn_session *vh = vpn_cache_find(a->cache_ha, s->sid);
        const struct vpn_session *vf = vpn_cache_find(a->cache_fa, s->sid);
        struct aaah_session_info i = {
            .session_id = s->sid,
            .nai = s->nai,
            .hoa = s->hoa,
            .ha = s->ha,
            .fa = s->fa,
            .expires = vh ? vh->expires : 0,
            .n_ha_profiles = vh ? vh->n_profiles : 0,
            .n_fa_profiles = vf ? vf->n_profiles : 0,
            .n_plain = s->n_plain,
            .generation = s->generation,
            .pool = s->pool_key != NULL,
        };
        cb(&i, arg);
    }
}

static void before_expire(struct vpn_session *vs, void *arg)
{
    struct aaah *a = arg;
    struct asess *s = vs->nai ? find_nai(a, vs->nai) : NULL;
    if (s && !strcmp(s->sid, vs->id))
        end_sess(a, s, false); /* the HA cache removes vs itself */
}

size_t aaah_expire(struct aaah *a, uint64_t now_ms)
{
    size_t n = vpn_cache_expire(a->cache_ha, (time_t)(now_ms / 1000), before_expire, a);
    (void)vpn_cache_expire(a->cache_fa, (time_t)(now_ms / 1000), NULL, NULL);
    return n;
}

/* ---- decisions --------------------------------------------------------------- */

void aaah_decision_free(struct aaah_decision *d)
{
    struct aaah_profile_set *sets[2] = {&d->ha_set, &d->fa_set};
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned i = 0; i < sets[k]->n; i++)
            vpn_profile_clear(&sets[k]->p[i]);
        free(sets[k]->p);
    }
    for (unsigned j = 0; j < d->n_pcn; j++) {
        for (unsigned i = 0; i < d->pcn[j].n; i++)
            vpn_profile_clear(&d->pcn[j].p[i]);
        free(d->pcn[j].p);
    }
    free(d->pcn);
    OPENSSL_cleanse(&d->keys, sizeof(d->keys));
    memset(d, 0, sizeof(*d));
}

__attribute__((format(printf, 4, 5))) static int deny(struct aaah_decision *d, uint32_t rc,
                                                      uint8_t mip, const char *fmt, ...)
{
    aaah_decision_free(d);
    d->result_code = rc;
    d->mip_code = mip;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
    return 1;
}

static bool set_push(struct aaah_profile_set *set, const struct vpn_profile *p)
{
    struct vpn_profile *n = realloc(set->p, (set->n + 1) * sizeof(*n));
    if (!n)
        return false;
    set->p = n;
    memset(&set->p[set->n], 0, sizeof(set->p[set->n]));
    if (!vpn_profile_copy(&set->p[set->n], p))
        return false;
    set->n++;
    return true;
}

/* Fills the accepted decision from the cache session. */
static int accept_from_cache(struct asess *s, const struct vpn_session *vh,
                             const struct vpn_session *vf, uint32_t lifetime,
                             struct aaah_decision *d)
{
    d->result_code = AAAH_DIAMETER_SUCCESS;
    d->mip_code = MIP_CODE_ACCEPTED;
    snprintf(d->reason, sizeof(d->reason), "accepted");
    d->hoa = s->hoa;
    d->ha = s->ha;
    d->fa = s->fa;
    d->lifetime = lifetime;
    d->profile_cache = true;
    d->generation = s->generation;
    d->n_plain = s->n_plain;
    d->ha_set.node = s->ha;
    d->fa_set.node = s->fa;
    unsigned n = vh->n_profiles + vf->n_profiles;
    for (unsigned i = 0; i < n; i++) {
        bool ha = i < vh->n_profiles;
        const struct vpn_profile *p = ha ? &vh->profiles[i] : &vf->profiles[i - vh->n_profiles];
        bool ok = set_push(ha ? &d->ha_set : &d->fa_set, p);
        if (ok && ha && p->leg == VPN_LEG_FA_PCN) {
            /* The PCN's set (seed [0076]-[0077]): the HA's copy, keyed by the PCN. */
            unsigned j = 0;
            while (j < d->n_pcn && d->pcn[j].node.s_addr != p->src_gw.s_addr)
                j++;
            if (j == d->n_pcn) {
                struct aaah_profile_set *n = realloc(d->pcn, (d->n_pcn + 1) * sizeof(*n));
                if (!n)
                    ok = false;
                else {
                    d->pcn = n;
                    memset(&d->pcn[j], 0, sizeof(d->pcn[j]));
                    d->pcn[j].node = p->src_gw;
                    d->n_pcn++;
                }
            }
            if (ok)
                ok = set_push(&d->pcn[j], p);
        }
        if (!ok)
            return deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED,
                        "out of memory");
    }
    d->has_keys = true;
    d->keys = s->keys;
    return 0;
}

struct plist {
    struct vpn_profile *p;
    unsigned n;
    bool oom;
};

static void collect_profile(const struct vpn_profile *p, void *arg)
{
    struct plist *l = arg;
    if (l->oom || l->n >= VPN_MAX_PROFILES) {
        l->oom = true;
        return;
    }
    struct vpn_profile *n = realloc(l->p, (l->n + 1) * sizeof(*n));
    if (!n) {
        l->oom = true;
        return;
    }
    l->p = n;
    memset(&l->p[l->n], 0, sizeof(l->p[l->n]));
    if (!vpn_profile_copy(&l->p[l->n], p)) {
        l->oom = true;
        return;
    }
    l->n++;
}

static void plist_free(struct plist *l)
{
    for (unsigned i = 0; i < l->n; i++)
        vpn_profile_clear(&l->p[i]);
    free(l->p);
    memset(l, 0, sizeof(*l));
}

/* RFC 3957 §5: key = HMAC-SHA1(AAA-key, nonce || MN identifier (the NAI)). */
static bool derive_mn_ha(const struct vpndb_user *u, struct aaah_keys *k)
{
    if (RAND_bytes(k->nonce, sizeof(k->nonce)) != 1)
        return false;
    uint8_t buf[AAAH_NONCE_LEN + VPNDB_NAI_MAX];
    size_t nl = strlen(u->nai);
    memcpy(buf, k->nonce, sizeof(k->nonce));
    memcpy(buf + sizeof(k->nonce), u->nai, nl);
    unsigned int olen = 0;
    bool ok = HMAC(EVP_sha1(), u->key, (int)u->key_len, buf, sizeof(k->nonce) + nl, k->mn_ha_key,
                   &olen) != NULL &&
              olen == AAAH_MN_HA_KEY_LEN;
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok;
}

/* Frees the SPIs the allocator gave s beyond the first keep. */
static void spis_truncate(struct asess *s, unsigned keep)
{
    if (s->n_spis > keep)
        s->n_spis = keep;
}

/* Path decision + cache set for s (new session or service update).  On
 * failure fills d with the denial and returns 1. */
static int decide_path(struct aaah *a, struct asess *s, const struct vpndb_user *u,
                       uint32_t lifetime, time_t now, struct aaah_decision *d)
{
    char e[VPNDB_ERR_MAX];
    struct plist l = {0};
    if (!vpndb_profile_list(a->db, u->nai, collect_profile, &l, e, sizeof(e)) || l.oom) {
        plist_free(&l);
        return deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "VPN database: %s",
                    l.oom ? "too many profiles or out of memory" : e);
    }
    struct vpn_path_input in = {
        .db = l.p,
        .n_db = l.n,
        .fa = s->fa,
        .ha = s->ha,
        .hoa = s->hoa,
        .cngw = a->cngw,
        .alloc_spi = path_alloc_spi,
        .alloc_arg = a,
    };
    struct vpn_path path = {0};
    unsigned spis_before = s->n_spis;
    a->alloc_for = s;
    char pe[VPN_ERR_MAX];
    bool ok = vpn_path_decide(&in, &path, pe, sizeof(pe));
    a->alloc_for = NULL;
    plist_free(&l);
    if (!ok) {
        bool no_spi = strstr(pe, "no SPI") != NULL;
        spis_truncate(s, spis_before);
        return deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY,
                    no_spi ? MIP_CODE_HA_INSUFFICIENT_RESOURCES : MIP_CODE_FA_UNSPECIFIED,
                    "path decision: %s", pe);
    }
    char ce[VPN_ERR_MAX];
    /* Both sets validate as a whole before either cache changes. */
    bool valid = true;
    for (unsigned i = 0; valid && i < path.n_ha + path.n_fa; i++)
        valid = vpn_profile_validate(i < path.n_ha ? &path.ha[i] : &path.fa[i - path.n_ha], ce,
                                     sizeof(ce));
    struct vpn_session *vh = NULL, *vf = NULL;
    if (valid) {
        vh = vpn_cache_set(a->cache_ha, s->sid, s->nai, s->hoa, s->fa, path.ha, path.n_ha, lifetime,
                           now, ce, sizeof(ce));
        if (vh)
            vf = vpn_cache_set(a->cache_fa, s->sid, s->nai, s->hoa, s->fa, path.fa, path.n_fa,
                               lifetime, now, ce, sizeof(ce));
    }
    s->n_plain = path.n_plain;
    vpn_path_free(&path);
    if (!vf) {
        if (vh)
            vpn_cache_remove(a->cache_ha, vh);
        return deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED,
                    "VPN information cache: %s", ce);
    }
    s->generation++;
    return 0;
}

int aaah_handle_amr(struct aaah *a, const struct aaah_amr *in, struct aaah_decision *out,
                    uint64_t now_ms)
{
    memset(out, 0, sizeof(*out));
    struct aaah_decision *d = out;
    time_t now = (time_t)(now_ms / 1000);
    char ip1[INET_ADDRSTRLEN], ip2[INET_ADDRSTRLEN];

    /* 1. The AVPs the AMR must carry (RFC 4004 §5.1). */
    if (!in->session_id || !*in->session_id || strlen(in->session_id) > VPN_SESSION_ID_MAX)
        return deny(d,
                    in->session_id && *in->session_id ? AAAH_DIAMETER_INVALID_AVP_VALUE
                                                      : AAAH_DIAMETER_MISSING_AVP,
                    MIP_CODE_FA_POORLY_FORMED_REQUEST, "Session-Id missing or too long");
    if (!in->nai || !*in->nai || strlen(in->nai) > VPNDB_NAI_MAX)
        return deny(
            d, in->nai && *in->nai ? AAAH_DIAMETER_INVALID_AVP_VALUE : AAAH_DIAMETER_MISSING_AVP,
            MIP_CODE_FA_POORLY_FORMED_REQUEST, "User-Name missing or too long");
    if (!in->reg_req || !in->reg_req_len)
        return deny(d, AAAH_DIAMETER_MISSING_AVP, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "MIP-Reg-Request missing");
    if (!in->challenge || !in->challenge_len)
        return deny(d, AAAH_DIAMETER_MISSING_AVP, MIP_CODE_FA_MISSING_CHALLENGE,
                    "MIP-FA-Challenge missing (RFC 3012 §3)");

    /* 2. The registration request. */
    struct mip_reg_request rq;
    size_t off = 0;
    enum mip_err me = mip_get_reg_request(in->reg_req, in->reg_req_len, &rq, &off);
    if (me != MIP_OK)
        return deny(d, AAAH_DIAMETER_INVALID_AVP_VALUE, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "MIP-Reg-Request: %s at offset %zu", mip_err_str(me), off);
    if (!rq.ext.has_nai)
        return deny(d, AAAH_DIAMETER_INVALID_AVP_VALUE, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "MIP-Reg-Request without NAI extension (RFC 2794)");
    if (rq.ext.nai.len != strlen(in->nai) || memcmp(rq.ext.nai.ptr, in->nai, rq.ext.nai.len))
        return deny(d, AAAH_DIAMETER_INVALID_AVP_VALUE, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "User-Name differs from the request's NAI extension");
    /* The FA: given by the caller, else the request's care-of address, which is the FA's
     * address when the MN registers through an FA (RFC 5944 §3.1, §3.7). */
    struct in_addr fa = in->fa.s_addr ? in->fa : rq.care_of_addr;
    if (!fa.s_addr)
        return deny(d, AAAH_DIAMETER_MISSING_AVP, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "FA address unknown (no FA given and care-of address 0.0.0.0)");
    if (!rq.ext.mn_aaa.present)
        return deny(d, AAAH_DIAMETER_MISSING_AVP, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                    "no MN-AAA authentication extension (RFC 3012 §5)");
    if (!rq.ext.has_challenge)
        return deny(d, AAAH_DIAMETER_MISSING_AVP, MIP_CODE_FA_MISSING_CHALLENGE,
                    "no MN-FA challenge extension in the request (RFC 3012 §3)");
    if (rq.ext.challenge.len != in->challenge_len ||
        CRYPTO_memcmp(rq.ext.challenge.ptr, in->challenge, in->challenge_len))
        return deny(d, AAAH_DIAMETER_AUTHENTICATION_REJECTED, MIP_CODE_FA_UNKNOWN_CHALLENGE,
                    "challenge in the request differs from MIP-FA-Challenge");

    /* 3. The user and the MN-AAA authenticator. */
    struct vpndb_user u;
    char e[VPNDB_ERR_MAX];
    int r = vpndb_user_get(a->db, in->nai, &u, e, sizeof(e));
    if (r < 0)
        return deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "VPN database: %s",
                    e);
    if (r == 0)
        return deny(d, AAAH_DIAMETER_AUTHENTICATION_REJECTED, MIP_CODE_FA_MN_AUTH_FAILED,
                    "unknown user %s", in->nai);
    int rc = 1;
    if (rq.ext.mn_aaa.spi != u.spi) {
        rc = deny(d, AAAH_DIAMETER_AUTHENTICATION_REJECTED, MIP_CODE_FA_MN_AUTH_FAILED,
                  "%s: MN-AAA SPI %u unknown", in->nai, rq.ext.mn_aaa.spi);
        goto done;
    }
    if (!mip_verify_mn_aaa_auth(in->reg_req, &rq.ext.mn_aaa, u.key, u.key_len, in->challenge,
                                in->challenge_len)) {
        rc = deny(d, AAAH_DIAMETER_AUTHENTICATION_REJECTED, MIP_CODE_FA_MN_AUTH_FAILED,
                  "%s: MN-AAA authenticator does not verify", in->nai);
        goto done;
    }

    uint32_t lifetime = rq.lifetime < a->cfg.max_lifetime ? rq.lifetime : a->cfg.max_lifetime;
    struct asess *s = find_nai(a, in->nai);

    /* 4. Deregistration.  The session (keys, pool address) stays until the HA has accepted
     * it: the caller ends it with aaah_session_end_nai() after the HAA (FLOWS.md "STR/STA"),
     * so an HA refusal leaves AAAH and HA in agreement.  The decision carries the session's
     * keys (the HA may need them to authenticate its reply) and empty profile sets
     * (Profile-Cache 0 = empty the cache). */
    if (lifetime == 0) {
        d->result_code = AAAH_DIAMETER_SUCCESS;
        d->mip_code = MIP_CODE_ACCEPTED;
        d->ha = s ? s->ha : u.ha;
        d->hoa = s ? s->hoa : rq.home_addr;
        d->fa = fa;
        d->ha_set.node = d->ha;
        d->fa_set.node = fa;
        d->profile_cache = true;
        if (s) {
            d->generation = s->generation;
            d->has_keys = true;
            d->keys = s->keys;
        }
        snprintf(d->reason, sizeof(d->reason), "deregistration%s",
                 s ? "" : " (no session: nothing to end)");
        rc = 0;
        goto done;
    }

    /* 5. Home address requested. */
    if (rq.home_addr.s_addr) {
        struct in_addr mine = s ? s->hoa : u.hoa;
        if (rq.home_addr.s_addr != mine.s_addr) {
            inet_ntop(AF_INET, &rq.home_addr, ip1, sizeof(ip1));
            rc = deny(d, AAAH_DIAMETER_AUTHORIZATION_REJECTED, MIP_CODE_HA_ADMIN_PROHIBITED,
                      "%s: home address %s is not the user's", in->nai, ip1);
            goto done;
        }
    }

    /* A Session-Id is the MN's own: never take over another user's. */
    struct vpn_session *other = vpn_cache_find(a->cache_ha, in->session_id);
    if (other && (!other->nai || strcmp(other->nai, in->nai))) {
        rc = deny(d, AAAH_DIAMETER_INVALID_AVP_VALUE, MIP_CODE_FA_POORLY_FORMED_REQUEST,
                  "Session-Id already in use by another user");
        goto done;
    }

    if (s) {
        /* 6. Known MN: re-registration, move, or service update. */
        struct vpn_session *vh = vpn_cache_find(a->cache_ha, s->sid);
        struct vpn_session *vf = vpn_cache_find(a->cache_fa, s->sid);
        if (!vh || !vf) {
            rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED,
                      "VPN information cache inconsistent");
            goto done;
        }
        if (strcmp(s->sid, in->session_id)) {
            /* A new Diameter session for the same MN (e.g. via a new FA). */
            char *nsid = strdup(in->session_id);
            char ce[VPN_ERR_MAX];
            struct vpn_session *nh = NULL, *nf = NULL;
            if (nsid)
                nh = vpn_cache_set(a->cache_ha, nsid, s->nai, vh->hoa, vh->fa, vh->profiles,
                                   vh->n_profiles, lifetime, now, ce, sizeof(ce));
            if (nh)
                nf = vpn_cache_set(a->cache_fa, nsid, s->nai, vf->hoa, vf->fa, vf->profiles,
                                   vf->n_profiles, lifetime, now, ce, sizeof(ce));
            if (!nf) {
                if (nh)
                    vpn_cache_remove(a->cache_ha, nh);
                free(nsid);
                rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED,
                          "VPN information cache: out of memory");
                goto done;
            }
            vpn_cache_remove(a->cache_ha, vh);
            vpn_cache_remove(a->cache_fa, vf);
            vh = nh;
            vf = nf;
            free(s->sid);
            s->sid = nsid;
        }
        struct in_addr old_fa = s->fa;
        bool moved = old_fa.s_addr != fa.s_addr;
        if (moved) {
            /* New FA-HA key: the new FA must not learn the old FA's. */
            spi_release(s, s->keys.fa_ha_spi);
            if (RAND_bytes(s->keys.fa_ha_key, sizeof(s->keys.fa_ha_key)) != 1 ||
                !spi_alloc1(a, s, &s->keys.fa_ha_spi)) {
                end_sess(a, s, true);
                rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_HA_INSUFFICIENT_RESOURCES,
                          "no SPI or randomness for the FA-HA key: session ended");
                goto done;
            }
            s->fa = fa;
        }
        if (in->service_update) {
            /* Seed [0092]: re-read the database regardless of the cache.  The
             * profiles' SPIs go back to the allocator; MN-HA and FA-HA stay. */
            char ce[VPNDB_ERR_MAX];
            if (!aaah_reload_cngw(a, ce, sizeof(ce))) {
                rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "%s", ce);
                goto done;
            }
            uint32_t keep[2] = {s->keys.mn_ha_spi, s->keys.fa_ha_spi};
            s->n_spis = 0;
            s->spis[s->n_spis++] = keep[0];
            s->spis[s->n_spis++] = keep[1];
            if (decide_path(a, s, &u, lifetime, now, d)) {
                /* Caches unchanged unless the FA cache refused: then the
                 * session cannot go on. */
                if (!vpn_cache_find(a->cache_ha, s->sid) || !vpn_cache_find(a->cache_fa, s->sid))
                    end_sess(a, s, true);
                rc = 1;
                goto done;
            }
            vh = vpn_cache_find(a->cache_ha, s->sid);
            vf = vpn_cache_find(a->cache_fa, s->sid);
        } else if (moved) {
            vpn_cache_move_fa(vh, old_fa, fa);
            vpn_cache_move_fa(vf, old_fa, fa);
            s->generation++;
        }
        vpn_cache_refresh(vh, lifetime, now);
        vpn_cache_refresh(vf, lifetime, now);
        rc = accept_from_cache(s, vh, vf, lifetime, d);
        if (rc == 0 && in->has_prev_fa &&
            in->prev_fa.s_addr != (moved ? old_fa.s_addr : fa.s_addr)) {
            d->prev_fa_mismatch = true;
            d->mn_prev_fa = in->prev_fa;
        }
        if (rc == 0 && moved) {
            d->moved = true;
            d->prev_fa = old_fa;
            inet_ntop(AF_INET, &old_fa, ip1, sizeof(ip1));
            inet_ntop(AF_INET, &fa, ip2, sizeof(ip2));
            snprintf(d->reason, sizeof(d->reason), "accepted: moved from FA %s to %s%s", ip1, ip2,
                     in->service_update ? ", service updated" : "");
        } else if (rc == 0 && in->service_update) {
            snprintf(d->reason, sizeof(d->reason), "accepted: service updated");
        }
        goto done;
    }

    /* 7. New session. */
    s = calloc(1, sizeof(*s));
    if (!s || !(s->sid = strdup(in->session_id)) || !(s->nai = strdup(in->nai))) {
        free_sess(s);
        rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "out of memory");
        goto done;
    }
    s->ha = u.ha;
    s->fa = fa;
    if (u.hoa.s_addr) {
        s->hoa = u.hoa;
    } else {
        if (!(s->pool_key = strdup(in->session_id))) {
            free_sess(s);
            rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "out of memory");
            goto done;
        }
        if (!vpndb_pool_alloc(a->db, u.pool, s->pool_key, &s->hoa, e, sizeof(e))) {
            free(s->pool_key);
            s->pool_key = NULL;
            free_sess(s);
            rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_HA_INSUFFICIENT_RESOURCES,
                      "%s: no home address: %s", in->nai, e);
            goto done;
        }
    }
    if (!spi_alloc1(a, s, &s->keys.mn_ha_spi) || !spi_alloc1(a, s, &s->keys.fa_ha_spi) ||
        !derive_mn_ha(&u, &s->keys) ||
        RAND_bytes(s->keys.fa_ha_key, sizeof(s->keys.fa_ha_key)) != 1) {
        rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_HA_INSUFFICIENT_RESOURCES,
                  "no SPI or randomness for the MN-HA / FA-HA keys");
        goto fail_new;
    }
    if (decide_path(a, s, &u, lifetime, now, d)) {
        rc = 1;
        goto fail_new;
    }
    if (!link_sess(a, s)) {
        vpn_cache_remove_id(a->cache_ha, s->sid);
        vpn_cache_remove_id(a->cache_fa, s->sid);
        rc = deny(d, AAAH_DIAMETER_UNABLE_TO_COMPLY, MIP_CODE_FA_UNSPECIFIED, "out of memory");
        goto fail_new;
    }
    rc = accept_from_cache(s, vpn_cache_find(a->cache_ha, s->sid),
                           vpn_cache_find(a->cache_fa, s->sid), lifetime, d);
    if (rc == 0 && in->has_prev_fa && in->prev_fa.s_addr != fa.s_addr) {
        /* A previous FA, but no session to move: nothing the AAAH can hand off from. */
        d->prev_fa_mismatch = true;
        d->mn_prev_fa = in->prev_fa;
    }
    goto done;

fail_new:
    if (s->pool_key) {
        char fe[VPNDB_ERR_MAX];
        (void)vpndb_pool_free(a->db, s->pool_key, fe, sizeof(fe));
    }
    free_sess(s);
done:
    vpndb_user_clear(&u);
    return rc;
}
