/* mip4vpn_msggen: build RFC 4004 AMR, AMA, HAR and HAA carrying our vendor AVPs with the real
 * freeDiameter message API and dictionary (mip4vpn_dict), check each one round-trips
 * (fd_msg_parse_buffer + fd_msg_parse_dict + fd_msg_parse_rules, i.e. our ABNF rules), and write
 * them to a pcap (raw IPv4, TCP port 3868, correct checksums) for tshark.
 *
 *   mip4vpn_msggen [--vendor N] [--omit-required] OUT.pcap
 *
 * --omit-required leaves MIP-MN-AAA-Auth out of the AMR: the rule check must then fail
 * (negative test). The field values are fixed; tests/scripts/test_dict_tshark.sh asserts them.
 */
#include "mip4vpn_dict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

static struct dictionary *D;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int ret_ = (expr);                                                                         \
        if (ret_) {                                                                                \
            fprintf(stderr, "mip4vpn_msggen: %s failed: %s\n", #expr, strerror(ret_));             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static struct dict_object *ietf(const char *name)
{
    struct dict_object *o = NULL;
    if (fd_dict_search(D, DICT_AVP, AVP_BY_NAME, name, &o, ENOENT)) {
        fprintf(stderr, "mip4vpn_msggen: AVP %s not in dictionary\n", name);
        exit(1);
    }
    return o;
}

static struct dict_object *vnd(uint32_t code)
{
    struct dict_object *o = NULL;
    if (mip4vpn_dict_find_vendor_avp(D, code, &o)) {
        fprintf(stderr, "mip4vpn_msggen: vendor AVP %u not in dictionary\n", code);
        exit(1);
    }
    return o;
}

static struct avp *mk(struct dict_object *model)
{
    struct avp *a = NULL;
    CHECK(fd_msg_avp_new(model, 0, &a));
    return a;
}

static void put(void *parent, struct avp *a)
{
    CHECK(fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, a));
}

static void add_u32(void *parent, struct dict_object *model, uint32_t v)
{
    struct avp *a = mk(model);
    union avp_value val = {.u32 = v};
    CHECK(fd_msg_avp_setvalue(a, &val));
    put(parent, a);
}

static void add_i32(void *parent, struct dict_object *model, int32_t v)
{
    struct avp *a = mk(model);
    union avp_value val = {.i32 = v};
    CHECK(fd_msg_avp_setvalue(a, &val));
    put(parent, a);
}

static void add_os(void *parent, struct dict_object *model, const void *data, size_t len)
{
    struct avp *a = mk(model);
    union avp_value val;
    val.os.data = (uint8_t *)data;
    val.os.len = len;
    CHECK(fd_msg_avp_setvalue(a, &val));
    put(parent, a);
}

static void add_str(void *parent, struct dict_object *model, const char *s)
{
    add_os(parent, model, s, strlen(s));
}

/* Diameter Address: 2-octet address family (1 = IPv4) + address. */
static void add_ip4(void *parent, struct dict_object *model, const char *dotted)
{
    uint8_t buf[6] = {0, 1};
    if (inet_pton(AF_INET, dotted, buf + 2) != 1) {
        fprintf(stderr, "mip4vpn_msggen: bad address %s\n", dotted);
        exit(1);
    }
    add_os(parent, model, buf, sizeof(buf));
}

static struct msg *new_msg(const char *cmd_name, uint32_t hbh, uint32_t e2e)
{
    struct dict_object *cmd = NULL;
    CHECK(fd_dict_search(D, DICT_COMMAND, CMD_BY_NAME, cmd_name, &cmd, ENOENT));
    struct msg *m = NULL;
    CHECK(fd_msg_new(cmd, 0, &m));
    struct msg_hdr *h = NULL;
    CHECK(fd_msg_hdr(m, &h));
    h->msg_appl = MIP4_APPLICATION_ID;
    h->msg_hbhid = hbh;
    h->msg_eteid = e2e;
    return m;
}

/* A Mobile IPv4 Registration Request (RFC 5944 §3.3) with NAI (RFC 2794) and generalized
 * MN-AAA authentication (RFC 3012) extensions; the authenticator is a fixed test pattern. */
static const char NAI[] = "mn1@home.example";
static uint8_t regreq[24 + 2 + sizeof(NAI) - 1 + 8 + 16];
static size_t regreq_auth_off;

static void build_regreq(void)
{
    uint8_t *p = regreq;
    *p++ = 1;    /* type: Registration Request */
    *p++ = 0x02; /* flags: T (reverse tunnelling) */
    *p++ = 0x07; /* lifetime 1800 */
    *p++ = 0x08;
    uint8_t a[4];
    inet_pton(AF_INET, "10.10.0.100", a); /* home address */
    memcpy(p, a, 4), p += 4;
    inet_pton(AF_INET, "10.10.0.1", a); /* home agent */
    memcpy(p, a, 4), p += 4;
    inet_pton(AF_INET, "192.0.2.11", a); /* care-of address */
    memcpy(p, a, 4), p += 4;
    static const uint8_t ident[8] = {0xe9, 0x7a, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x01};
    memcpy(p, ident, 8), p += 8;
    *p++ = 131; /* NAI extension */
    *p++ = sizeof(NAI) - 1;
    memcpy(p, NAI, sizeof(NAI) - 1), p += sizeof(NAI) - 1;
    *p++ = 36; /* generalized MN-AAA authentication */
    *p++ = 1;  /* subtype: MN-AAA */
    *p++ = 0;
    *p++ = 4 + 16;                          /* length: SPI + authenticator */
    *p++ = 0, *p++ = 0, *p++ = 1, *p++ = 0; /* SPI 256 */
    regreq_auth_off = (size_t)(p - regreq);
    for (int i = 0; i < 16; i++)
        *p++ = (uint8_t)(0xa0 + i);
}

/* A Registration Reply (RFC 5944 §3.4), code 0 (accepted). */
static uint8_t regrep[20 + 2 + sizeof(NAI) - 1];

static void build_regrep(void)
{
    uint8_t *p = regrep;
    *p++ = 3;
    *p++ = 0;
    *p++ = 0x07;
    *p++ = 0x08;
    uint8_t a[4];
    inet_pton(AF_INET, "10.10.0.100", a);
    memcpy(p, a, 4), p += 4;
    inet_pton(AF_INET, "10.10.0.1", a);
    memcpy(p, a, 4), p += 4;
    static const uint8_t ident[8] = {0xe9, 0x7a, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x01};
    memcpy(p, ident, 8), p += 8;
    *p++ = 131;
    *p++ = sizeof(NAI) - 1;
    memcpy(p, NAI, sizeof(NAI) - 1);
}

struct profile {
    uint32_t number;
    const char *src, *dst;
    uint32_t src_len, dst_len, dscp_up, dscp_down;
    int32_t sec;
    const char *gw_src, *gw_dst;
    int32_t gw_type;
    uint32_t spi_up, spi_down;
    uint32_t lifetime;
};

static void add_profile(void *parent, const struct profile *pr)
{
    struct avp *g = mk(vnd(MIP4VPN_AVP_VPN_PROFILE));
    add_u32(g, vnd(MIP4VPN_AVP_PROFILE_NUMBER), pr->number);
    add_ip4(g, vnd(MIP4VPN_AVP_SOURCE_PREFIX), pr->src);
    add_u32(g, vnd(MIP4VPN_AVP_SOURCE_PREFIX_LENGTH), pr->src_len);
    add_ip4(g, vnd(MIP4VPN_AVP_DESTINATION_PREFIX), pr->dst);
    add_u32(g, vnd(MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH), pr->dst_len);
    add_i32(g, vnd(MIP4VPN_AVP_SECURITY_TYPE), pr->sec);
    add_ip4(g, vnd(MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY), pr->gw_src);
    add_ip4(g, vnd(MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY), pr->gw_dst);
    add_i32(g, vnd(MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE), pr->gw_type);
    /* vpnshare: the ESP profiles carry per-user SPIs and keys, encap-only uses no SA. */
    add_i32(g, vnd(MIP4VPN_AVP_VPN_SHARE),
            pr->sec == MIP4VPN_SEC_ENCAP_ONLY ? MIP4VPN_VPN_SHARE_SHARED
                                              : MIP4VPN_VPN_SHARE_PER_USER);
    add_u32(g, vnd(MIP4VPN_AVP_DSCP_UP), pr->dscp_up);
    add_u32(g, vnd(MIP4VPN_AVP_DSCP_DOWN), pr->dscp_down);
    if (pr->sec != MIP4VPN_SEC_ENCAP_ONLY) {
        uint8_t k[32];
        add_u32(g, vnd(MIP4VPN_AVP_SPI_UP), pr->spi_up);
        add_u32(g, vnd(MIP4VPN_AVP_SPI_DOWN), pr->spi_down);
        memset(k, 0x11, 32);
        add_os(g, vnd(MIP4VPN_AVP_ENCRYPTION_KEY_UP), k, 32);
        memset(k, 0x22, 32);
        add_os(g, vnd(MIP4VPN_AVP_ENCRYPTION_KEY_DOWN), k, 32);
        memset(k, 0x33, 32);
        add_os(g, vnd(MIP4VPN_AVP_AUTH_KEY_UP), k, 32);
        memset(k, 0x44, 32);
        add_os(g, vnd(MIP4VPN_AVP_AUTH_KEY_DOWN), k, 32);
        add_i32(g, vnd(MIP4VPN_AVP_ENCRYPTION_ALGORITHM), MIP4VPN_ENCR_AES_CBC);
        add_i32(g, vnd(MIP4VPN_AVP_INTEGRITY_ALGORITHM), MIP4VPN_AUTH_HMAC_SHA2_256_128);
    }
    add_u32(g, vnd(MIP4VPN_AVP_PROFILE_LIFETIME), pr->lifetime);
    put(parent, g);
}

/* Profiles of the seeds' scenario 1 (static company gateway): the HA's and the FA's views. */
static const struct profile ha_profiles[] = {
    {1, "172.16.50.0", "10.10.0.100", 24, 32, 46, 46, MIP4VPN_SEC_ESP, "10.10.0.1", "192.0.2.11",
     MIP4VPN_GW_STATIC, 0x1001, 0x2001, 3600},
    {2, "172.16.60.0", "10.10.0.100", 24, 32, 0, 0, MIP4VPN_SEC_ENCAP_ONLY, "10.10.0.1",
     "203.0.113.1", MIP4VPN_GW_STATIC, 0, 0, 3600},
};
static const struct profile fa_profile = {1,
                                          "10.10.0.100",
                                          "172.16.50.0",
                                          32,
                                          24,
                                          46,
                                          46,
                                          MIP4VPN_SEC_ESP,
                                          "192.0.2.11",
                                          "10.10.0.1",
                                          MIP4VPN_GW_STATIC,
                                          0x2001,
                                          0x1001,
                                          3600};

static struct msg *build_amr(int omit_required)
{
    struct msg *m = new_msg(MIP4_CMD_AMR_NAME, 0x11110001, 0x22220001);
    add_str(m, ietf("Session-Id"), "fa1.visited.example;1;1;amr");
    add_u32(m, ietf("Auth-Application-Id"), MIP4_APPLICATION_ID);
    add_str(m, ietf("User-Name"), NAI);
    add_str(m, ietf("Destination-Realm"), "home.example");
    add_str(m, ietf("Origin-Host"), "fa1.visited.example");
    add_str(m, ietf("Origin-Realm"), "visited.example");
    add_os(m, ietf("MIP-Reg-Request"), regreq, sizeof(regreq));
    if (!omit_required) {
        struct avp *g = mk(ietf("MIP-MN-AAA-Auth"));
        add_u32(g, ietf("MIP-MN-AAA-SPI"), 256);
        add_u32(g, ietf("MIP-Auth-Input-Data-Length"), (uint32_t)regreq_auth_off);
        add_u32(g, ietf("MIP-Authenticator-Length"), 16);
        add_u32(g, ietf("MIP-Authenticator-Offset"), (uint32_t)regreq_auth_off);
        put(m, g);
    }
    add_ip4(m, ietf("MIP-Mobile-Node-Address"), "10.10.0.100");
    add_ip4(m, ietf("MIP-Home-Agent-Address"), "10.10.0.1");
    add_u32(m, ietf("MIP-Feature-Vector"), MIP4_FV_MN_HA_KEY_REQUEST | MIP4_FV_FA_HA_KEY_REQUEST);
    static const uint8_t chal[16] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
                                     0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
    add_os(m, ietf("MIP-FA-Challenge"), chal, sizeof(chal));
    add_u32(m, ietf("MIP-HA-to-FA-SPI"), 0x300);
    add_ip4(m, vnd(MIP4VPN_AVP_PREVIOUS_FA_ADDRESS), "192.0.2.12");
    add_i32(m, vnd(MIP4VPN_AVP_SERVICE_UPDATE_REQUEST), MIP4VPN_SERVICE_UPDATE_RELOAD_PROFILES);
    return m;
}

static struct msg *build_ama(void)
{
    struct msg *m = new_msg(MIP4_CMD_AMA_NAME, 0x11110001, 0x22220001);
    add_str(m, ietf("Session-Id"), "fa1.visited.example;1;1;amr");
    add_u32(m, ietf("Auth-Application-Id"), MIP4_APPLICATION_ID);
    add_u32(m, ietf("Result-Code"), 2001);
    add_str(m, ietf("Origin-Host"), "aaah.home.example");
    add_str(m, ietf("Origin-Realm"), "home.example");
    add_str(m, ietf("User-Name"), NAI);
    add_os(m, ietf("MIP-Reg-Reply"), regrep, sizeof(regrep));
    static const uint8_t key[16] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
    struct avp *g = mk(ietf("MIP-FA-to-HA-MSA"));
    add_u32(g, ietf("MIP-FA-to-HA-SPI"), 0x301);
    add_i32(g, ietf("MIP-Algorithm-Type"), MIP4_ALGORITHM_HMAC_SHA1);
    add_os(g, ietf("MIP-Session-Key"), key, sizeof(key));
    put(m, g);
    add_u32(m, ietf("MIP-MSA-Lifetime"), 3600);
    add_ip4(m, ietf("MIP-Home-Agent-Address"), "10.10.0.1");
    add_ip4(m, ietf("MIP-Mobile-Node-Address"), "10.10.0.100");
    add_u32(m, vnd(MIP4VPN_AVP_PROFILE_CACHE), 1);
    add_profile(m, &fa_profile);
    return m;
}

static struct msg *build_har(void)
{
    struct msg *m = new_msg(MIP4_CMD_HAR_NAME, 0x11110002, 0x22220002);
    add_str(m, ietf("Session-Id"), "aaah.home.example;1;2;har");
    add_u32(m, ietf("Auth-Application-Id"), MIP4_APPLICATION_ID);
    add_u32(m, ietf("Authorization-Lifetime"), 1800);
    add_i32(m, ietf("Auth-Session-State"), 1); /* NO_STATE_MAINTAINED */
    add_os(m, ietf("MIP-Reg-Request"), regreq, sizeof(regreq));
    add_str(m, ietf("Origin-Host"), "aaah.home.example");
    add_str(m, ietf("Origin-Realm"), "home.example");
    add_str(m, ietf("User-Name"), NAI);
    add_str(m, ietf("Destination-Realm"), "home.example");
    add_u32(m, ietf("MIP-Feature-Vector"), MIP4_FV_MN_HA_KEY_REQUEST | MIP4_FV_FA_HA_KEY_REQUEST);
    add_str(m, ietf("Destination-Host"), "ha.home.example");
    static const uint8_t nonce[16] = {0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
                                      0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f};
    static const uint8_t key[16] = {0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b,
                                    0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b, 0x6b};
    struct avp *g = mk(ietf("MIP-MN-to-HA-MSA"));
    add_u32(g, ietf("MIP-MN-HA-SPI"), 257);
    add_i32(g, ietf("MIP-Algorithm-Type"), MIP4_ALGORITHM_HMAC_SHA1);
    add_i32(g, ietf("MIP-Replay-Mode"), MIP4_REPLAY_TIMESTAMPS);
    add_os(g, ietf("MIP-Nonce"), nonce, sizeof(nonce));
    put(m, g);
    g = mk(ietf("MIP-HA-to-FA-MSA"));
    add_u32(g, ietf("MIP-HA-to-FA-SPI"), 0x300);
    add_i32(g, ietf("MIP-Algorithm-Type"), MIP4_ALGORITHM_HMAC_SHA1);
    add_os(g, ietf("MIP-Session-Key"), key, sizeof(key));
    put(m, g);
    add_u32(m, ietf("MIP-MSA-Lifetime"), 3600);
    g = mk(ietf("MIP-Originating-Foreign-AAA"));
    add_str(g, ietf("Origin-Realm"), "visited.example");
    add_str(g, ietf("Origin-Host"), "aaaf.visited.example");
    put(m, g);
    add_ip4(m, ietf("MIP-Mobile-Node-Address"), "10.10.0.100");
    add_ip4(m, ietf("MIP-Home-Agent-Address"), "10.10.0.1");
    add_u32(m, vnd(MIP4VPN_AVP_PROFILE_CACHE), 2);
    add_profile(m, &ha_profiles[0]);
    add_profile(m, &ha_profiles[1]);
    add_ip4(m, vnd(MIP4VPN_AVP_PREVIOUS_FA_ADDRESS), "192.0.2.12");
    return m;
}

static struct msg *build_haa(void)
{
    struct msg *m = new_msg(MIP4_CMD_HAA_NAME, 0x11110002, 0x22220002);
    add_str(m, ietf("Session-Id"), "aaah.home.example;1;2;har");
    add_u32(m, ietf("Auth-Application-Id"), MIP4_APPLICATION_ID);
    add_u32(m, ietf("Result-Code"), 2001);
    add_str(m, ietf("Origin-Host"), "ha.home.example");
    add_str(m, ietf("Origin-Realm"), "home.example");
    add_str(m, ietf("User-Name"), NAI);
    add_os(m, ietf("MIP-Reg-Reply"), regrep, sizeof(regrep));
    add_ip4(m, ietf("MIP-Home-Agent-Address"), "10.10.0.1");
    add_ip4(m, ietf("MIP-Mobile-Node-Address"), "10.10.0.100");
    add_u32(m, ietf("MIP-FA-to-HA-SPI"), 0x301);
    add_ip4(m, vnd(MIP4VPN_AVP_PREVIOUS_FA_ADDRESS), "192.0.2.12");
    return m;
}

/* Serialise, then parse back with the dictionary and check the ABNF rules. */
static int roundtrip(struct msg *m, uint8_t **buf, size_t *len, const char *what)
{
    CHECK(fd_msg_bufferize(m, buf, len));
    uint8_t *copy = malloc(*len);
    if (!copy)
        return ENOMEM;
    memcpy(copy, *buf, *len);
    struct msg *back = NULL;
    int ret = fd_msg_parse_buffer(&copy, *len, &back);
    if (ret) {
        free(copy);
        fprintf(stderr, "mip4vpn_msggen: %s: parse_buffer: %s\n", what, strerror(ret));
        return ret;
    }
    struct fd_pei pei;
    memset(&pei, 0, sizeof(pei));
    ret = fd_msg_parse_dict(back, D, &pei);
    if (!ret) {
        memset(&pei, 0, sizeof(pei));
        ret = fd_msg_parse_rules(back, D, &pei);
    }
    if (ret)
        fprintf(stderr, "mip4vpn_msggen: %s: dictionary check failed: %s (%s)\n", what,
                pei.pei_errcode ? pei.pei_errcode : strerror(ret),
                pei.pei_message ? pei.pei_message : "-");
    fd_msg_free(back);
    return ret;
}

/* ---- pcap ---------------------------------------------------------------------------------- */

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static int write_frame(FILE *f, int idx, const char *src, const char *dst, uint16_t sport,
                       uint16_t dport, uint32_t seq, uint32_t ack, const uint8_t *data, size_t len)
{
    size_t total = 20 + 20 + len;
    if (total > 65535)
        return EMSGSIZE;
    uint8_t *pkt = calloc(1, total);
    if (!pkt)
        return ENOMEM;
    uint8_t *ip = pkt, *tcp = pkt + 20;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)total);
    put16(ip + 4, (uint16_t)(0x100 + idx));
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    put16(ip + 10, csum(0, ip, 20));
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; /* PSH, ACK */
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, data, len);
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, (uint16_t)(20 + len));
    uint32_t sum = 0;
    for (int i = 0; i < 12; i += 2)
        sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
    put16(tcp + 16, csum(sum, tcp, 20 + len));

    uint8_t rec[16];
    uint32_t ts = 1700000000u + (uint32_t)idx;
    memcpy(rec, &ts, 4); /* pcap records are in host byte order, like the header */
    uint32_t usec = 0, caplen = (uint32_t)total;
    memcpy(rec + 4, &usec, 4);
    memcpy(rec + 8, &caplen, 4);
    memcpy(rec + 12, &caplen, 4);
    int ok = fwrite(rec, 1, 16, f) == 16 && fwrite(pkt, 1, total, f) == total;
    free(pkt);
    return ok ? 0 : EIO;
}

int main(int argc, char **argv)
{
    uint32_t vendor = MIP4VPN_DEFAULT_VENDOR_ID;
    int omit = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vendor") == 0 && i + 1 < argc) {
            if (mip4vpn_dict_parse_arg(argv[++i], &vendor)) {
                fprintf(stderr, "mip4vpn_msggen: bad vendor '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--omit-required") == 0) {
            omit = 1;
        } else if (!out && argv[i][0] != '-') {
            out = argv[i];
        } else {
            out = NULL;
            break;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: mip4vpn_msggen [--vendor N] [--omit-required] OUT.pcap\n");
        return 2;
    }

    fd_g_debug_lvl = FD_LOG_ERROR; /* keep freeDiameter's start-up notices quiet */
    CHECK(fd_core_initialize());
    D = fd_g_config->cnf_dict;
    CHECK(mip4vpn_dict_init(vendor));
    CHECK(mip4vpn_dict_init(vendor)); /* idempotent */

    build_regreq();
    build_regrep();

    struct {
        const char *name;
        struct msg *m;
        const char *src, *dst;
        uint16_t sport, dport;
        uint32_t seq, ack;
    } frames[] = {
        {"AMR", build_amr(omit), "192.0.2.11", "192.0.2.20", 40001, 3868, 1000, 9000},
        {"AMA", build_ama(), "192.0.2.20", "192.0.2.11", 3868, 40001, 9000, 0},
        {"HAR", build_har(), "198.51.100.1", "198.51.100.2", 40002, 3868, 2000, 7000},
        {"HAA", build_haa(), "198.51.100.2", "198.51.100.1", 3868, 40002, 7000, 0},
    };
    size_t n = sizeof(frames) / sizeof(frames[0]);
    uint8_t *bufs[4] = {0};
    size_t lens[4] = {0};
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (roundtrip(frames[i].m, &bufs[i], &lens[i], frames[i].name))
            bad = 1;
    }
    /* Each answer acknowledges its request. */
    frames[1].ack = frames[0].seq + (uint32_t)lens[0];
    frames[3].ack = frames[2].seq + (uint32_t)lens[2];

    FILE *f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "mip4vpn_msggen: %s: %s\n", out, strerror(errno));
        return 1;
    }
    uint32_t magic = 0xa1b2c3d4, snaplen = 65535, linktype = 101; /* LINKTYPE_RAW */
    uint16_t vmaj = 2, vmin = 4;
    int32_t zone = 0;
    uint32_t sigfigs = 0;
    fwrite(&magic, 4, 1, f);
    fwrite(&vmaj, 2, 1, f);
    fwrite(&vmin, 2, 1, f);
    fwrite(&zone, 4, 1, f);
    fwrite(&sigfigs, 4, 1, f);
    fwrite(&snaplen, 4, 1, f);
    fwrite(&linktype, 4, 1, f);
    for (size_t i = 0; i < n; i++) {
        CHECK(write_frame(f, (int)i, frames[i].src, frames[i].dst, frames[i].sport, frames[i].dport,
                          frames[i].seq, frames[i].ack, bufs[i], lens[i]));
        printf("frame %zu: %s %zu bytes vendor %u\n", i + 1, frames[i].name, lens[i], vendor);
        free(bufs[i]);
        fd_msg_free(frames[i].m);
    }
    if (fclose(f)) {
        fprintf(stderr, "mip4vpn_msggen: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (bad) {
        fprintf(stderr, "mip4vpn_msggen: some message failed the dictionary check\n");
        return 3;
    }
    return 0;
}
