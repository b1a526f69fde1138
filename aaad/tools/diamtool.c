/*
 * diamtool: a real freeDiameter peer that plays a foreign agent (AMR, STR client) or a home
 * agent (HAR server) against aaad, for the integration tests (aaad/tests) and by hand.
 *
 *   diamtool -c FD.conf [--peer ID] [--wait-s S] amr --realm R --nai NAI --spi N --key HEX
 *            --ha IP --coa IP [--hoa IP] [--lifetime S] [--challenge HEX] [--session SID]
 *            [--timeout-ms T] [--no-challenge-avp] [--mangle-offset]
 *            [--mn-ha-spi N --mn-ha-key HEX] [--prev-fa IP] [--service-update]
 *       builds the MN's Registration Request with mipd/proto (RFC 5944 + NAI, MN-FA challenge
 *       and MN-AAA authentication of RFC 3012; with --mn-ha-*, an MN-HA authenticator too,
 *       HMAC-MD5 of RFC 5944 §3.5.1, before the challenge), sends it in an AMR as an FA does
 *       (aaad/FLOWS.md "AMR"; --prev-fa and --service-update add our vendor AVPs the FA
 *       derives from the MN's extensions) and prints the AMA as one JSON line.
 *   diamtool -c FD.conf [--peer ID] str --realm R --session SID [--cause N] [--timeout-ms T]
 *       sends an STR (Termination-Cause N, default 1 LOGOUT) and prints the STA as one JSON line.
 *   diamtool -c FD.conf ha [--refuse NAI:CODE]... [--ignore NAI]... [--slow NAI:MS]...
 *            [--bindings FILE]
 *       serves HARs until SIGTERM: prints one JSON line per HAR (what it carried) and answers
 *       HAA 2001 with a Registration Reply (code 0, MN-HA authenticator made with the MN-HA key
 *       of the HAR), or HAA 4005 with a reply of CODE for --refuse, nothing for --ignore, and
 *       2001 only after MS milliseconds for --slow.  --bindings keeps the bindings' care-of
 *       addresses in FILE ("NAI COA" lines, read and rewritten at each HAR, so a test can move
 *       a binding as a Registration Request relayed straight to the HA would): an accepted HAA
 *       carries MIP4VPN-Previous-FA-Address = the care-of address of the binding it replaced.
 *
 * DIAMTOOL_SAVE=DIR in the environment writes every message sent or received to DIR (keys
 * zeroed): the seeds of tests/fuzz/fuzz_diam_avp.
 *
 * Keys are never printed: a key shows as "…_fp", the first 8 octets of its SHA-256 in hex, so
 * a test can check that two messages carry the same key.  Exit status: 0 when an answer came
 * (whatever its Result-Code), 1 on timeout or error, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "aaad_msg.h"
#include "diam.h"
#include "log.h"
#include "loop.h"
#include "mip4vpn_dict.h"
#include "mip_proto.h"
#include "vpn_avp.h"
#include "vpn_cache.h"

#define AVP_USER_NAME 1
#define AVP_AUTH_SESSION_STATE 277
#define AVP_ERROR_MESSAGE 281
#define AVP_ORIGIN_HOST 264
#define AVP_ORIGIN_REALM 296
#define AVP_DESTINATION_HOST 293
#define AVP_AUTHORIZATION_LIFETIME 291
#define AVP_TERMINATION_CAUSE 295
#define CMD_STR 275
#define MAX_RULES 16

static struct {
    struct loop *loop;
    struct diam *d;
    int rc;
    double t0;
    /* ha mode */
    struct {
        char nai[256];
        int code;          /* reply code, -1 = ignore */
        unsigned delay_ms; /* answer late */
    } rules[MAX_RULES];
    size_t n_rules;
    const char *bindings; /* ha mode: --bindings FILE */
} g;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int hex2bin(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

/* First 8 octets of SHA-256: lets a test compare keys without printing them. */
static void put_fp(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    put_hex(f, md, 8);
    OPENSSL_cleanse(md, sizeof(md));
}

static void put_ip(FILE *f, struct in_addr a)
{
    char b[INET_ADDRSTRLEN];
    fprintf(f, "\"%s\"", inet_ntop(AF_INET, &a, b, sizeof(b)));
}

static void put_str_avp(FILE *f, const char *key, void *parent, uint32_t code)
{
    char buf[512];
    if (diam_get_str(parent, code, 0, buf, sizeof(buf)) == 0) {
        fprintf(f, ",\"%s\":", key);
        vpn_json_str(f, buf);
    }
}

static void put_u32_avp(FILE *f, const char *key, void *parent, uint32_t code)
{
    uint32_t v;
    if (diam_get_u32(parent, code, 0, &v) == 0)
        fprintf(f, ",\"%s\":%u", key, v);
}

static void put_addr_avp(FILE *f, const char *key, void *parent, uint32_t code)
{
    struct in_addr a;
    if (diam_get_addr(parent, code, 0, &a) == 0) {
        fprintf(f, ",\"%s\":", key);
        put_ip(f, a);
    }
}

/* An RFC 4004 MSA as {"spi":..,"alg":..,"replay":..,"nonce":..,"key_len":..,"key_fp":..}. */
static void put_msa(FILE *f, const char *key, struct msg *m, uint32_t code, uint32_t spi_code)
{
    struct avp *g2 = NULL;
    if (diam_get_avp(m, code, 0, &g2))
        return;
    fprintf(f, ",\"%s\":{\"present\":true", key);
    if (spi_code)
        put_u32_avp(f, "spi", g2, spi_code);
    put_u32_avp(f, "alg", g2, MIP4_AVP_ALGORITHM_TYPE);
    put_u32_avp(f, "replay", g2, MIP4_AVP_REPLAY_MODE);
    const uint8_t *p;
    size_t n;
    if (diam_get_os(g2, MIP4_AVP_NONCE, 0, &p, &n) == 0) {
        fputs(",\"nonce\":", f);
        put_hex(f, p, n);
    }
    if (diam_get_os(g2, MIP4_AVP_SESSION_KEY, 0, &p, &n) == 0) {
        fprintf(f, ",\"key_len\":%zu,\"key_fp\":", n);
        put_fp(f, p, n);
    }
    fputc('}', f);
}

static void put_profiles(FILE *f, struct msg *m)
{
    struct vpn_profile *ps = calloc(VPN_MAX_PROFILES, sizeof(*ps));
    size_t n = 0;
    char err[VPN_AVP_ERR_MAX] = "";
    int rc = ps ? vpn_avp_get_profiles(m, ps, VPN_MAX_PROFILES, &n, err, sizeof(err)) : ENOMEM;
    bool present = false;
    uint32_t cache = 0;
    char e2[VPN_AVP_ERR_MAX];
    if (vpn_avp_get_profile_cache(m, &present, &cache, e2, sizeof(e2)) == 0 && present)
        fprintf(f, ",\"profile_cache\":%u", cache);
    if (rc) {
        fprintf(f, ",\"profiles_error\":");
        vpn_json_str(f, err);
    }
    fputs(",\"profiles\":[", f);
    for (size_t i = 0; i < n; i++) {
        const struct vpn_profile *p = &ps[i];
        char b1[20], b2[20];
        fprintf(f, "%s{\"number\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"sec\":\"%s\",\"src_gw\":",
                i ? "," : "", p->number, vpn_prefix_str(&p->src, b1), vpn_prefix_str(&p->dst, b2),
                vpn_sec_str((enum vpn_sec_type)p->sec));
        put_ip(f, p->src_gw);
        fputs(",\"dst_gw\":", f);
        put_ip(f, p->dst_gw);
        fprintf(f,
                ",\"gw_type\":\"%s\",\"vpnshare\":%u,\"spi_up\":%u,\"spi_down\":%u,"
                "\"dscp_up\":%u,\"dscp_down\":%u,\"has_keys\":%s",
                vpn_gw_type_str((enum vpn_gw_type)p->gw_type), p->vpnshare, p->spi_up, p->spi_down,
                p->dscp_up, p->dscp_down, p->has_keys ? "true" : "false");
        if (p->has_keys) {
            fputs(",\"key_fp\":", f);
            put_fp(f, (const uint8_t *)&p->key_up, sizeof(p->key_up) + sizeof(p->key_down));
        }
        fputc('}', f);
    }
    fputc(']', f);
    for (size_t i = 0; i < n; i++)
        vpn_profile_clear(&ps[i]);
    free(ps);
}

/* MIP-Reg-Reply as {"code":..,"lifetime":..,"hoa":..,"ha":..,"mn_ha_auth":bool}. */
static void put_reply(FILE *f, struct msg *m)
{
    const uint8_t *p;
    size_t n;
    if (diam_get_os(m, MIP4_AVP_REG_REPLY, 0, &p, &n))
        return;
    struct mip_reg_reply rp;
    size_t off = 0;
    enum mip_err e = mip_get_reg_reply(p, n, &rp, &off);
    if (e != MIP_OK) {
        fprintf(f, ",\"reg_reply\":{\"error\":\"%s at %zu\"}", mip_err_str(e), off);
        return;
    }
    fprintf(f,
            ",\"reg_reply\":{\"code\":%u,\"lifetime\":%u,\"ident\":\"%016llx\",\"hoa\":", rp.code,
            rp.lifetime, (unsigned long long)rp.identification);
    put_ip(f, rp.home_addr);
    fputs(",\"ha\":", f);
    put_ip(f, rp.home_agent);
    fprintf(f, ",\"mn_ha_auth\":%s}", rp.ext.mn_ha.present ? "true" : "false");
}

/* ---- seeds for the fuzz target --------------------------------------------------------------- */

/* Zeroes the MIP-Session-Key of every RFC 4004 MSA and our profile keys (received messages we
 * are done with). */
static void zero_keys(struct msg *m)
{
    vpn_avp_wipe_keys(m);
    struct avp *a = NULL;
    if (fd_msg_browse(m, MSG_BRW_FIRST_CHILD, &a, NULL))
        return;
    while (a) {
        struct avp *k = NULL;
        struct avp_hdr *h = NULL;
        if (diam_get_avp(a, MIP4_AVP_SESSION_KEY, 0, &k) == 0 && fd_msg_avp_hdr(k, &h) == 0 &&
            h->avp_value && h->avp_value->os.data)
            OPENSSL_cleanse(h->avp_value->os.data, h->avp_value->os.len);
        if (fd_msg_browse(a, MSG_BRW_NEXT, &a, NULL))
            break;
    }
}

/* DIAMTOOL_SAVE=DIR: every message this run sends or receives is written to
 * DIR/<pid>-<n>-<what>.bin, keys zeroed (seeds of tests/fuzz/fuzz_diam_avp). */
static void save_msg(struct msg *m, const char *what, bool received)
{
    static unsigned n;
    const char *dir = getenv("DIAMTOOL_SAVE");
    if (!dir || !m)
        return;
    if (received)
        zero_keys(m);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fd_msg_bufferize(m, &buf, &len) != 0)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%d-%u-%s.bin", dir, (int)getpid(), n++, what);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    free(buf);
}

/* ---- waiting for the peer ------------------------------------------------------------------- */

static bool wait_peer(const char *id, unsigned seconds)
{
    for (unsigned i = 0; i < seconds * 20; i++) {
        bool open = false;
        if (id) {
            struct peer_hdr *p = NULL;
            open = fd_peer_getbyid((DiamId_t)id, strlen(id), 1, &p) == 0 && p &&
                   fd_peer_get_state(p) == STATE_OPEN;
        } else if (pthread_rwlock_rdlock(&fd_g_peers_rw) == 0) {
            for (struct fd_list *li = fd_g_peers.next; li != &fd_g_peers; li = li->next)
                open |= fd_peer_get_state((struct peer_hdr *)li->o) == STATE_OPEN;
            pthread_rwlock_unlock(&fd_g_peers_rw);
        }
        if (open)
            return true;
        usleep(50000);
    }
    return false;
}

/* ---- client: AMR / STR ---------------------------------------------------------------------- */

static void on_answer(void *arg, struct msg *ans, const char *why)
{
    const char *what = arg;
    double el = mono_ms() - g.t0;
    if (!ans) {
        printf("{\"answered\":false,\"why\":");
        vpn_json_str(stdout, why ? why : "?");
        printf(",\"elapsed_ms\":%.1f}\n", el);
        g.rc = 1;
        loop_stop(g.loop);
        return;
    }
    char sid[512] = "";
    diam_session_id(ans, sid, sizeof(sid));
    printf("{\"answered\":true,\"cmd\":\"%s\",\"result_code\":%u,\"session\":", what,
           diam_result_code(ans));
    vpn_json_str(stdout, sid);
    put_str_avp(stdout, "origin_host", ans, AVP_ORIGIN_HOST);
    put_str_avp(stdout, "error_message", ans, AVP_ERROR_MESSAGE);
    put_str_avp(stdout, "user", ans, AVP_USER_NAME);
    put_u32_avp(stdout, "lifetime", ans, AVP_AUTHORIZATION_LIFETIME);
    put_u32_avp(stdout, "auth_session_state", ans, AVP_AUTH_SESSION_STATE);
    put_addr_avp(stdout, "hoa", ans, MIP4_AVP_MOBILE_NODE_ADDRESS);
    put_addr_avp(stdout, "ha", ans, MIP4_AVP_HOME_AGENT_ADDRESS);
    put_u32_avp(stdout, "msa_lifetime", ans, MIP4_AVP_MSA_LIFETIME);
    put_reply(stdout, ans);
    put_msa(stdout, "fa_to_ha_msa", ans, MIP4_AVP_FA_TO_HA_MSA, MIP4_AVP_FA_TO_HA_SPI);
    put_msa(stdout, "mn_to_ha_msa", ans, MIP4_AVP_MN_TO_HA_MSA, MIP4_AVP_MN_HA_SPI);
    put_msa(stdout, "ha_to_mn_msa", ans, MIP4_AVP_HA_TO_MN_MSA, 0);
    bool present = false;
    struct in_addr prev;
    char e[VPN_AVP_ERR_MAX];
    if (vpn_avp_get_prev_fa(ans, &present, &prev, e, sizeof(e)) == 0 && present) {
        fputs(",\"prev_fa\":", stdout);
        put_ip(stdout, prev);
    }
    put_profiles(stdout, ans);
    printf(",\"elapsed_ms\":%.1f}\n", el);
    fflush(stdout);
    save_msg(ans, what, true);
    diam_msg_free(ans);
    loop_stop(g.loop);
}

struct amr_opts {
    const char *realm, *nai, *session, *key_hex, *chal_hex, *mn_ha_key_hex;
    struct in_addr ha, hoa, coa, prev_fa;
    uint32_t spi, lifetime, mn_ha_spi, cause;
    bool no_chal_avp, mangle_offset, service_update;
};

static int send_amr(const struct amr_opts *o, unsigned timeout_ms)
{
    uint8_t key[64], chal[32] = {0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    size_t keylen = 0, chal_len = 8;
    if (hex2bin(o->key_hex, key, sizeof(key), &keylen) || !keylen) {
        fprintf(stderr, "diamtool: --key must be hex (up to 64 octets)\n");
        return 2;
    }
    if (o->chal_hex && (hex2bin(o->chal_hex, chal, sizeof(chal), &chal_len) || chal_len < 4)) {
        fprintf(stderr, "diamtool: --challenge must be 4-32 octets of hex\n");
        return 2;
    }
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T;
    rq.lifetime = (uint16_t)o->lifetime;
    rq.home_addr = o->hoa;
    rq.home_agent = o->ha;
    rq.care_of_addr = o->coa;
    rq.identification = mip_ident_now();
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, o->nai, strlen(o->nai));
    if (o->mn_ha_key_hex) {
        /* RFC 5944 §3.5.2: covers the request up to its SPI; the MN-AAA one covers it too. */
        uint8_t hk[64];
        size_t hkl = 0;
        if (hex2bin(o->mn_ha_key_hex, hk, sizeof(hk), &hkl) || !hkl || !o->mn_ha_spi) {
            fprintf(stderr, "diamtool: --mn-ha-key must be hex (up to 64 octets), with "
                            "--mn-ha-spi\n");
            return 2;
        }
        mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, o->mn_ha_spi, hk, hkl);
        OPENSSL_cleanse(hk, sizeof(hk));
    }
    mip_put_challenge(&w, chal, chal_len);
    mip_put_mn_aaa_auth(&w, o->spi, key, keylen, chal, chal_len);
    OPENSSL_cleanse(key, sizeof(key));
    struct mip_reg_request dec;
    if (w.err != MIP_OK || mip_get_reg_request(buf, w.len, &dec, NULL) != MIP_OK) {
        fprintf(stderr, "diamtool: cannot build the registration request\n");
        return 1;
    }
    const struct mip_auth_ext *x = &dec.ext.mn_aaa;
    uint32_t offset = (uint32_t)(x->authenticator.ptr - buf);
    if (o->mangle_offset)
        offset += 4;

    struct msg *m = NULL;
    struct avp *grp = NULL;
    uint32_t fv = MIP4_FV_MN_HA_KEY_REQUEST | MIP4_FV_FA_HA_KEY_REQUEST;
    if (!o->hoa.s_addr)
        fv |= MIP4_FV_MN_HOME_ADDRESS_REQUESTED;
    /* RFC 6733 §8.8 <identity>;<high 32>;<low 32>[;opt]: freeDiameter's own counter restarts
     * with each run of this tool, so two runs in one second would share a Session-Id. */
    char sid[320];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(sid, sizeof(sid), "%s;%lld;%u;diamtool", diam_identity(g.d), (long long)ts.tv_sec,
             (unsigned)getpid() << 12 ^ (unsigned)(ts.tv_nsec / 1000));
    int e = diam_new_request(MIP4_CMD_AMR, o->session ? o->session : sid, &m);
    if (e == 0)
        e = diam_add_dest(m, o->realm, NULL);
    if (e == 0)
        e = diam_add_str(m, AVP_USER_NAME, 0, o->nai);
    if (e == 0)
        e = diam_add_os(m, MIP4_AVP_REG_REQUEST, 0, buf, w.len);
    if (e == 0)
        e = diam_add_group(m, MIP4_AVP_MN_AAA_AUTH, 0, &grp);
    if (e == 0)
        e = diam_add_u32(grp, MIP4_AVP_MN_AAA_SPI, 0, x->spi);
    if (e == 0)
        e = diam_add_u32(grp, MIP4_AVP_AUTH_INPUT_DATA_LENGTH, 0, (uint32_t)x->covered_len);
    if (e == 0)
        e = diam_add_u32(grp, MIP4_AVP_AUTHENTICATOR_LENGTH, 0, (uint32_t)x->authenticator.len);
    if (e == 0)
        e = diam_add_u32(grp, MIP4_AVP_AUTHENTICATOR_OFFSET, 0, offset);
    if (e == 0 && !o->no_chal_avp)
        e = diam_add_os(m, MIP4_AVP_FA_CHALLENGE, 0, chal, chal_len);
    if (e == 0)
        e = diam_add_u32(m, MIP4_AVP_FEATURE_VECTOR, 0, fv);
    if (e == 0 && o->hoa.s_addr)
        e = diam_add_addr(m, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, o->hoa);
    if (e == 0)
        e = diam_add_addr(m, MIP4_AVP_HOME_AGENT_ADDRESS, 0, o->ha);
    if (e == 0)
        e = diam_add_u32(m, AVP_AUTH_SESSION_STATE, 0, 0);
    if (e == 0 && o->prev_fa.s_addr)
        e = vpn_avp_put_prev_fa(m, o->prev_fa, 0);
    if (e == 0 && o->service_update)
        e = vpn_avp_put_service_update(m, 0);
    if (e) {
        fprintf(stderr, "diamtool: cannot build the AMR (%s)\n", strerror(e));
        if (m)
            diam_msg_free(m);
        return 1;
    }
    save_msg(m, "AMR", false);
    g.t0 = mono_ms();
    if ((e = diam_send(g.d, &m, timeout_ms, on_answer, "AMA")) != 0) {
        fprintf(stderr, "diamtool: cannot send the AMR (%s)\n", strerror(e));
        return 1;
    }
    return -1; /* answer pending */
}

static int send_str(const char *realm, const char *sid, uint32_t cause, unsigned timeout_ms)
{
    struct msg *m = NULL;
    int e = diam_new_request(CMD_STR, sid, &m);
    if (e == 0)
        e = diam_add_dest(m, realm, NULL);
    if (e == 0)
        e = diam_add_u32(m, AVP_TERMINATION_CAUSE, 0, cause ? cause : 1 /* DIAMETER_LOGOUT */);
    if (e) {
        fprintf(stderr, "diamtool: cannot build the STR (%s)\n", strerror(e));
        if (m)
            diam_msg_free(m);
        return 1;
    }
    save_msg(m, "STR", false);
    g.t0 = mono_ms();
    if ((e = diam_send(g.d, &m, timeout_ms, on_answer, "STA")) != 0) {
        fprintf(stderr, "diamtool: cannot send the STR (%s)\n", strerror(e));
        return 1;
    }
    return -1;
}

/* ---- server: HAR -------------------------------------------------------------------------- */

struct delayed {
    struct loop_timer t;
    struct msg *ans;
};

static void send_delayed(struct loop *l, void *arg)
{
    (void)l;
    struct delayed *dl = arg;
    diam_answer(g.d, &dl->ans);
    free(dl);
}

/* --bindings FILE: the care-of address of nai's binding before this HAR ("" if none), and
 * the new one written in its place (coa 0.0.0.0: removed, a deregistration). */
static bool binding_swap(const char *nai, struct in_addr coa, struct in_addr *prev)
{
    char lines[64][340];
    size_t n = 0;
    bool found = false;
    FILE *f = fopen(g.bindings, "r");
    if (f) {
        char line[320], who[260], addr[64];
        while (n < 64 && fgets(line, sizeof(line), f)) {
            if (sscanf(line, "%259s %63s", who, addr) != 2)
                continue;
            if (!strcmp(who, nai)) {
                found = inet_pton(AF_INET, addr, prev) == 1;
                continue;
            }
            snprintf(lines[n++], sizeof(lines[0]), "%s %s\n", who, addr);
        }
        fclose(f);
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", g.bindings);
    f = fopen(tmp, "w");
    if (f) {
        for (size_t i = 0; i < n; i++)
            fputs(lines[i], f);
        char b[INET_ADDRSTRLEN];
        if (coa.s_addr)
            fprintf(f, "%s %s\n", nai, inet_ntop(AF_INET, &coa, b, sizeof(b)));
        fclose(f);
        rename(tmp, g.bindings);
    }
    return found;
}

static void on_har(void *ctx, struct msg *req)
{
    (void)ctx;
    struct aaad_har_in in;
    aaad_har_read(req, &in);
    FILE *f = stdout;
    fputs("{\"cmd\":\"HAR\",\"session\":", f);
    vpn_json_str(f, in.sid);
    fputs(",\"user\":", f);
    vpn_json_str(f, in.nai);
    put_str_avp(f, "origin_host", req, AVP_ORIGIN_HOST);
    put_str_avp(f, "destination_host", req, AVP_DESTINATION_HOST);
    put_u32_avp(f, "lifetime", req, AVP_AUTHORIZATION_LIFETIME);
    put_u32_avp(f, "auth_session_state", req, AVP_AUTH_SESSION_STATE);
    put_u32_avp(f, "feature_vector", req, MIP4_AVP_FEATURE_VECTOR);
    put_addr_avp(f, "hoa", req, MIP4_AVP_MOBILE_NODE_ADDRESS);
    put_addr_avp(f, "ha", req, MIP4_AVP_HOME_AGENT_ADDRESS);
    put_u32_avp(f, "msa_lifetime", req, MIP4_AVP_MSA_LIFETIME);
    put_msa(f, "mn_to_ha_msa", req, MIP4_AVP_MN_TO_HA_MSA, MIP4_AVP_MN_HA_SPI);
    put_msa(f, "ha_to_mn_msa", req, MIP4_AVP_HA_TO_MN_MSA, 0);
    put_msa(f, "ha_to_fa_msa", req, MIP4_AVP_HA_TO_FA_MSA, MIP4_AVP_HA_TO_FA_SPI);
    put_msa(f, "fa_to_ha_msa", req, MIP4_AVP_FA_TO_HA_MSA, MIP4_AVP_FA_TO_HA_SPI);
    struct avp *ofa = NULL;
    if (diam_get_avp(req, MIP4_AVP_ORIGINATING_FOREIGN_AAA, 0, &ofa) == 0) {
        fputs(",\"orig_foreign_aaa\":{\"x\":0", f);
        put_str_avp(f, "host", ofa, AVP_ORIGIN_HOST);
        put_str_avp(f, "realm", ofa, AVP_ORIGIN_REALM);
        fputc('}', f);
    }
    if (in.has_prev_fa) {
        fputs(",\"prev_fa\":", f);
        put_ip(f, in.prev_fa);
    }
    put_profiles(f, req);
    fprintf(f, ",\"reg_request_ok\":%s", in.rq_ok ? "true" : "false");

    int code = 0;
    unsigned delay_ms = 0;
    for (size_t i = 0; i < g.n_rules; i++)
        if (!strcmp(g.rules[i].nai, in.nai)) {
            code = g.rules[i].code;
            delay_ms = g.rules[i].delay_ms;
        }
    /* The binding this registration replaces (seed [0070]: the HAA names the old FA). */
    struct in_addr prev = {0};
    bool had = false;
    if (g.bindings && code == 0 && in.rq_ok) {
        had =
            binding_swap(in.nai, in.rq.lifetime ? in.rq.care_of_addr : (struct in_addr){0}, &prev);
        if (had) {
            fputs(",\"binding_was\":", f);
            put_ip(f, prev);
        }
    }
    fprintf(f, ",\"action\":\"%s\"}\n",
            code < 0   ? "ignore"
            : code     ? "refuse"
            : delay_ms ? "slow"
                       : "accept");
    fflush(f);
    if (code < 0) {
        aaad_har_in_clear(&in);
        diam_msg_free(req);
        return;
    }

    /* HAA: the HA's Registration Reply, authenticated with the MN-HA key of the HAR
     * (RFC 5944 §3.5.2; the RFC 3957 nonce extension is the real HA's business). */
    uint8_t rep[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, rep, sizeof(rep));
    const struct mip_reg_request *rq = &in.rq;
    if (in.rq_ok) {
        struct mip_reg_reply rp;
        memset(&rp, 0, sizeof(rp));
        rp.code = (uint8_t)code;
        rp.lifetime = code ? 0 : rq->lifetime;
        rp.home_addr = in.hoa.s_addr ? in.hoa : rq->home_addr;
        rp.home_agent = rq->home_agent;
        rp.identification = rq->identification;
        mip_put_reg_reply(&w, &rp);
        if (in.mn_ha_key && in.mn_ha_spi)
            mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, in.mn_ha_spi, in.mn_ha_key,
                                  in.mn_ha_key_len);
    }
    struct in_addr ha = rq->home_agent, hoa = in.hoa;
    uint32_t ha_fa_spi = in.ha_fa_spi;
    bool rq_ok = in.rq_ok;
    char nai[sizeof(in.nai)];
    snprintf(nai, sizeof(nai), "%s", in.nai);
    aaad_har_in_clear(&in);
    save_msg(req, "HAR", true); /* its keys were last used just above */
    struct msg *ans = NULL;
    if (diam_new_answer(req, &ans)) {
        diam_msg_free(req);
        return;
    }
    int rc = diam_set_result(ans, code ? MIP4_RC_MIP_REPLY_FAILURE : 2001,
                             code ? "refused by diamtool" : NULL);
    if (rc == 0 && nai[0])
        rc = diam_add_str(ans, AVP_USER_NAME, 0, nai);
    if (rc == 0 && rq_ok && w.err == MIP_OK)
        rc = diam_add_os(ans, MIP4_AVP_REG_REPLY, 0, rep, w.len);
    if (rc == 0 && rq_ok)
        rc = diam_add_addr(ans, MIP4_AVP_HOME_AGENT_ADDRESS, 0, ha);
    if (rc == 0 && hoa.s_addr)
        rc = diam_add_addr(ans, MIP4_AVP_MOBILE_NODE_ADDRESS, 0, hoa);
    if (rc == 0 && ha_fa_spi)
        rc = diam_add_u32(ans, MIP4_AVP_FA_TO_HA_SPI, 0, ha_fa_spi);
    if (rc == 0 && had)
        rc = vpn_avp_put_prev_fa(ans, prev, 0);
    if (rc) {
        fprintf(stderr, "diamtool: cannot build the HAA (%s)\n", strerror(rc));
        diam_msg_free(ans);
        return;
    }
    save_msg(ans, "HAA", false);
    if (delay_ms) {
        struct delayed *dl = calloc(1, sizeof(*dl));
        if (dl) {
            dl->ans = ans;
            loop_timer_init(&dl->t, send_delayed, dl);
            loop_timer_arm(g.loop, &dl->t, delay_ms);
            return;
        }
    }
    diam_answer(g.d, &ans);
}

/* ---- main -------------------------------------------------------------------------------- */

static void on_signal(struct loop *l, int fd, uint32_t ev, void *arg)
{
    (void)ev;
    (void)arg;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) > 0)
        loop_stop(l);
}

static void usage(void)
{
    fputs("usage: diamtool -c FD.conf [--peer ID] [--wait-s S] COMMAND ...\n"
          "  amr --realm R --nai NAI --spi N --key HEX --ha IP --coa IP [--hoa IP]\n"
          "      [--lifetime S] [--challenge HEX] [--session SID] [--timeout-ms T]\n"
          "      [--no-challenge-avp] [--mangle-offset] [--mn-ha-spi N --mn-ha-key HEX]\n"
          "      [--prev-fa IP] [--service-update]\n"
          "  str --realm R --session SID [--cause N] [--timeout-ms T]\n"
          "  ha [--refuse NAI:CODE]... [--ignore NAI]... [--slow NAI:MS]... [--bindings FILE]\n",
          stderr);
}

static bool parse_ip(const char *s, struct in_addr *a)
{
    return inet_pton(AF_INET, s, a) == 1;
}

int main(int argc, char **argv)
{
    enum {
        O_PEER = 256,
        O_WAIT,
        O_REALM,
        O_NAI,
        O_SPI,
        O_KEY,
        O_HA,
        O_COA,
        O_HOA,
        O_LIFETIME,
        O_CHAL,
        O_SESSION,
        O_TIMEOUT,
        O_NOCHAL,
        O_MANGLE,
        O_REFUSE,
        O_IGNORE,
        O_SLOW,
        O_MNHA_SPI,
        O_MNHA_KEY,
        O_PREV_FA,
        O_SU,
        O_CAUSE,
        O_BINDINGS
    };
    static const struct option opts[] = {{"conf", required_argument, NULL, 'c'},
                                         {"peer", required_argument, NULL, O_PEER},
                                         {"wait-s", required_argument, NULL, O_WAIT},
                                         {"realm", required_argument, NULL, O_REALM},
                                         {"nai", required_argument, NULL, O_NAI},
                                         {"spi", required_argument, NULL, O_SPI},
                                         {"key", required_argument, NULL, O_KEY},
                                         {"ha", required_argument, NULL, O_HA},
                                         {"coa", required_argument, NULL, O_COA},
                                         {"hoa", required_argument, NULL, O_HOA},
                                         {"lifetime", required_argument, NULL, O_LIFETIME},
                                         {"challenge", required_argument, NULL, O_CHAL},
                                         {"session", required_argument, NULL, O_SESSION},
                                         {"timeout-ms", required_argument, NULL, O_TIMEOUT},
                                         {"no-challenge-avp", no_argument, NULL, O_NOCHAL},
                                         {"mangle-offset", no_argument, NULL, O_MANGLE},
                                         {"refuse", required_argument, NULL, O_REFUSE},
                                         {"ignore", required_argument, NULL, O_IGNORE},
                                         {"slow", required_argument, NULL, O_SLOW},
                                         {"mn-ha-spi", required_argument, NULL, O_MNHA_SPI},
                                         {"mn-ha-key", required_argument, NULL, O_MNHA_KEY},
                                         {"prev-fa", required_argument, NULL, O_PREV_FA},
                                         {"service-update", no_argument, NULL, O_SU},
                                         {"cause", required_argument, NULL, O_CAUSE},
                                         {"bindings", required_argument, NULL, O_BINDINGS},
                                         {NULL, 0, NULL, 0}};
    const char *conf = NULL, *peer = NULL;
    unsigned wait_s = 20, timeout_ms = 10000;
    struct amr_opts ao = {.lifetime = 600};
    bool bad = false;
    int o;
    /* Options may come before or after the command word (getopt permutes). */
    while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            conf = optarg;
            break;
        case O_PEER:
            peer = optarg;
            break;
        case O_WAIT:
            wait_s = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_REALM:
            ao.realm = optarg;
            break;
        case O_NAI:
            ao.nai = optarg;
            break;
        case O_SPI:
            ao.spi = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case O_KEY:
            ao.key_hex = optarg;
            break;
        case O_HA:
            bad |= !parse_ip(optarg, &ao.ha);
            break;
        case O_COA:
            bad |= !parse_ip(optarg, &ao.coa);
            break;
        case O_HOA:
            bad |= !parse_ip(optarg, &ao.hoa);
            break;
        case O_LIFETIME:
            ao.lifetime = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case O_CHAL:
            ao.chal_hex = optarg;
            break;
        case O_SESSION:
            ao.session = optarg;
            break;
        case O_TIMEOUT:
            timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_NOCHAL:
            ao.no_chal_avp = true;
            break;
        case O_MANGLE:
            ao.mangle_offset = true;
            break;
        case O_MNHA_SPI:
            ao.mn_ha_spi = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case O_MNHA_KEY:
            ao.mn_ha_key_hex = optarg;
            break;
        case O_PREV_FA:
            bad |= !parse_ip(optarg, &ao.prev_fa);
            break;
        case O_SU:
            ao.service_update = true;
            break;
        case O_CAUSE:
            ao.cause = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case O_BINDINGS:
            g.bindings = optarg;
            break;
        case O_REFUSE:
        case O_IGNORE:
        case O_SLOW: {
            char *colon = o != O_IGNORE ? strrchr(optarg, ':') : NULL;
            if (g.n_rules == MAX_RULES || (o != O_IGNORE && !colon)) {
                bad = true;
                break;
            }
            snprintf(g.rules[g.n_rules].nai, sizeof(g.rules[0].nai), "%.*s",
                     colon ? (int)(colon - optarg) : (int)strlen(optarg), optarg);
            int v = colon ? atoi(colon + 1) : 0;
            g.rules[g.n_rules].code = o == O_IGNORE ? -1 : o == O_REFUSE ? v : 0;
            g.rules[g.n_rules].delay_ms = o == O_SLOW ? (unsigned)v : 0;
            if (v < 0 || (o == O_REFUSE && (v <= 0 || v > 255)) || (o == O_SLOW && v <= 0))
                bad = true;
            g.n_rules++;
            break;
        }
        default:
            bad = true;
            break;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    if (bad || !conf || !cmd || optind + 1 != argc) {
        usage();
        return 2;
    }
    bool is_amr = !strcmp(cmd, "amr"), is_str = !strcmp(cmd, "str"), is_ha = !strcmp(cmd, "ha");
    if ((!is_amr && !is_str && !is_ha) ||
        (is_amr &&
         (!ao.realm || !ao.nai || !ao.spi || !ao.key_hex || !ao.ha.s_addr || !ao.coa.s_addr)) ||
        (is_str && (!ao.realm || !ao.session))) {
        usage();
        return 2;
    }
    log_threshold = LOG_LVL_WARN;
    g.loop = loop_new();
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    loop_add_fd(g.loop, sfd, EPOLLIN, on_signal, NULL);
    char err[512];
    g.d = diam_start(g.loop, conf, 0, err, sizeof(err));
    if (!g.d) {
        fprintf(stderr, "diamtool: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (is_ha) {
        diam_on_request(g.d, MIP4_CMD_HAR, on_har, NULL);
        fprintf(stderr, "diamtool: serving HARs as %s\n", diam_identity(g.d));
        loop_run(g.loop);
    } else if (!wait_peer(peer, wait_s)) {
        fprintf(stderr, "diamtool: peer %s not open after %u s\n", peer ? peer : "(any)", wait_s);
        rc = 1;
    } else {
        rc = is_amr ? send_amr(&ao, timeout_ms)
                    : send_str(ao.realm, ao.session, ao.cause, timeout_ms);
        if (rc < 0) {
            loop_run(g.loop);
            rc = g.rc;
        }
    }
    diam_stop(g.d);
    loop_free(g.loop);
    close(sfd);
    return rc;
}
