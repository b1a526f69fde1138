/*
 * mip_pcapgen: writes a classic libpcap file (LINKTYPE_RAW, IPv4) holding one
 * of every message the agents send, encoded with the mipproto codec and fixed,
 * known field values, so that tshark (plus dict/wireshark/mip4vpn.lua) can
 * check our encoder (tests/scripts/test_tshark_decode.sh).
 *
 * Usage: mip_pcapgen [--bad-length] OUT.pcap
 * Prints "frame N: description" for every frame written.  --bad-length writes
 * the Binding Update with a wrong Length octet (negative test of the checks).
 *
 * Every message is decoded back with the codec (and its authenticators
 * verified) before it is written; a failure there exits with status 1.
 */
#include "mip_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed values (tests/scripts/test_tshark_decode.sh asserts them) ---- */
#define ADDR_HA "192.0.2.1"    /* home agent */
#define ADDR_HOA "192.0.2.10"  /* mobile node's home address */
#define ADDR_FA "198.51.100.1" /* foreign agent = care-of address */
#define ADDR_CA "203.0.113.1"  /* correspondent's agent (route optimisation) */
#define ADDR_ALL_NODES "224.0.0.1"
#define ADDR_ALL_ROUTERS "224.0.0.2"
#define MN_PORT 49152

#define RRQ_LIFETIME 1800
#define RRQ_IDENT 0xE8C1A2B300C0FFEEull
#define RRQ_DENIED_IDENT 0xE8C1A2B400C0FFEFull
#define NAI "mn1@example.net"
#define SPI_MN_HA 256
#define SPI_MN_AAA 2 /* CHAP_SPI, RFC 3012 §8 */
#define SPI_RO 4097
#define VSE_TYPE_VPN_INFO 2 /* raw for now */
#define VSE_TYPE_SERVICE_UPDATE 3
#define BU_LIFETIME 300
#define BU_IDENT 0xE8C1A2C000000001ull
#define BR_IDENT 0xE8C1A2C100000002ull
#define ADV_SEQ 7
#define ADV_REG_LIFETIME 1800
#define ADV_LIFETIME 1800

static const uint8_t key_mn_ha[] = "mn-ha shared secret";
static const uint8_t key_mn_aaa[] = "mn-aaa shared secret";
static const uint8_t key_ro[] = "ha-ca route optimisation key 256";
static const uint8_t challenge[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                      0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const uint8_t adv_challenge[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                          0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t vpn_info[] = "VPN-INFO";
static const uint8_t service_update[] = {0x00, 0x01};

/* ---- pcap writing ------------------------------------------------------- */
#define LINKTYPE_RAW 101
#define PCAP_SNAPLEN 65535
#define TS_BASE 1700000000u

struct out {
    FILE *f;
    unsigned frame;
    int err;
};

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    le16(p, (uint16_t)v);
    le16(p + 2, (uint16_t)(v >> 16));
}

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void out_write(struct out *o, const void *p, size_t n)
{
    if (!o->err && fwrite(p, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
}

static void pcap_header(struct out *o)
{
    uint8_t h[24];
    le32(h, 0xa1b2c3d4u); /* microsecond timestamps, written little-endian */
    le16(h + 4, 2);
    le16(h + 6, 4);
    le32(h + 8, 0);  /* thiszone */
    le32(h + 12, 0); /* sigfigs */
    le32(h + 16, PCAP_SNAPLEN);
    le32(h + 20, LINKTYPE_RAW);
    out_write(o, h, sizeof(h));
}

static void pcap_record(struct out *o, const uint8_t *pkt, size_t len, const char *desc)
{
    uint8_t h[16];
    o->frame++;
    le32(h, TS_BASE + o->frame);
    le32(h + 4, 0);
    le32(h + 8, (uint32_t)len);
    le32(h + 12, (uint32_t)len);
    out_write(o, h, sizeof(h));
    out_write(o, pkt, len);
    printf("frame %u: %s\n", o->frame, desc);
}

/* ---- IPv4 / UDP --------------------------------------------------------- */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static struct in_addr addr(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        fprintf(stderr, "bad address %s\n", s);
        exit(2);
    }
    return a;
}

/* Writes an IPv4 header (no options) for a payload of plen octets at pkt;
 * returns the header length. */
static size_t put_ipv4(uint8_t *pkt, const char *src, const char *dst, uint8_t proto, uint8_t ttl,
                       size_t plen, uint16_t id)
{
    struct in_addr s = addr(src), d = addr(dst);
    memset(pkt, 0, 20);
    pkt[0] = 0x45;
    be16(pkt + 2, (uint16_t)(20 + plen));
    be16(pkt + 4, id);
    pkt[8] = ttl;
    pkt[9] = proto;
    memcpy(pkt + 12, &s, 4);
    memcpy(pkt + 16, &d, 4);
    be16(pkt + 10, csum_fold(csum_add(0, pkt, 20)));
    return 20;
}

static void emit_udp(struct out *o, const char *src, uint16_t sport, const char *dst,
                     uint16_t dport, const uint8_t *payload, size_t len, const char *desc)
{
    uint8_t pkt[20 + 8 + MIP_MAX_MSG];
    if (len > MIP_MAX_MSG) {
        fprintf(stderr, "%s: payload too long\n", desc);
        exit(1);
    }
    size_t ulen = 8 + len;
    size_t hl = put_ipv4(pkt, src, dst, IPPROTO_UDP, 64, ulen, (uint16_t)(o->frame + 1));
    uint8_t *u = pkt + hl;
    be16(u, sport);
    be16(u + 2, dport);
    be16(u + 4, (uint16_t)ulen);
    be16(u + 6, 0);
    memcpy(u + 8, payload, len);
    /* RFC 768 pseudo header: src, dst, zero, protocol, UDP length. */
    uint8_t ph[12];
    memcpy(ph, pkt + 12, 8);
    ph[8] = 0;
    ph[9] = IPPROTO_UDP;
    be16(ph + 10, (uint16_t)ulen);
    uint16_t c = csum_fold(csum_add(csum_add(0, ph, sizeof(ph)), u, ulen));
    be16(u + 6, c ? c : 0xffff);
    pcap_record(o, pkt, hl + ulen, desc);
}

static void emit_icmp(struct out *o, const char *src, const char *dst, const uint8_t *icmp,
                      size_t len, const char *desc)
{
    uint8_t pkt[20 + MIP_MAX_MSG];
    if (len > MIP_MAX_MSG) {
        fprintf(stderr, "%s: message too long\n", desc);
        exit(1);
    }
    /* RFC 1256: advertisements and solicitations go with TTL 1. */
    size_t hl = put_ipv4(pkt, src, dst, IPPROTO_ICMP, 1, len, (uint16_t)(o->frame + 1));
    memcpy(pkt + hl, icmp, len); /* checksum computed by the codec */
    pcap_record(o, pkt, hl + len, desc);
}

/* ---- message building --------------------------------------------------- */
static void fail(const char *what, enum mip_err e)
{
    fprintf(stderr, "mip_pcapgen: %s: %s\n", what, mip_err_str(e));
    exit(1);
}

static void check_writer(const struct mip_writer *w, const char *what)
{
    if (w->err != MIP_OK)
        fail(what, w->err);
}

static size_t build_reg_request(uint8_t *buf, size_t cap)
{
    struct mip_reg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.flags = MIP_RRQ_FLAG_T;
    rq.lifetime = RRQ_LIFETIME;
    rq.home_addr = addr(ADDR_HOA);
    rq.home_agent = addr(ADDR_HA);
    rq.care_of_addr = addr(ADDR_FA);
    rq.identification = RRQ_IDENT;

    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    mip_put_reg_request(&w, &rq);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, VSE_TYPE_VPN_INFO, vpn_info, sizeof(vpn_info) - 1);
    mip_put_nvse(&w, MIP_DEFAULT_VENDOR_ID, VSE_TYPE_SERVICE_UPDATE, service_update,
                 sizeof(service_update));
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, SPI_MN_HA, key_mn_ha, sizeof(key_mn_ha) - 1);
    /* Extensions for the FA (RFC 3024 §3.3, RFC 3012 §3) follow the MN-HA one. */
    mip_put_encap_delivery(&w);
    mip_put_challenge(&w, challenge, sizeof(challenge));
    mip_put_mn_aaa_auth(&w, SPI_MN_AAA, key_mn_aaa, sizeof(key_mn_aaa) - 1, challenge,
                        sizeof(challenge));
    check_writer(&w, "registration request");

    struct mip_reg_request d;
    size_t off = 0;
    enum mip_err e = mip_get_reg_request(buf, w.len, &d, &off);
    if (e != MIP_OK)
        fail("decoding our registration request", e);
    if (!d.ext.has_nai || !d.ext.has_challenge || !d.ext.encap_delivery || d.ext.n_cvse != 1 ||
        d.ext.n_nvse != 1 || !d.ext.mn_ha.present || !d.ext.mn_aaa.present ||
        d.identification != RRQ_IDENT)
        fail("registration request round trip", MIP_ERR_BAD_VALUE);
    if (!mip_verify_auth_hmac_md5(buf, &d.ext.mn_ha, key_mn_ha, sizeof(key_mn_ha) - 1) ||
        !mip_verify_mn_aaa_auth(buf, &d.ext.mn_aaa, key_mn_aaa, sizeof(key_mn_aaa) - 1, challenge,
                                sizeof(challenge)))
        fail("registration request authenticators", MIP_ERR_BAD_VALUE);
    return w.len;
}

static size_t build_reg_reply(uint8_t *buf, size_t cap, uint8_t code, uint16_t lifetime,
                              uint64_t ident)
{
    struct mip_reg_reply rp;
    memset(&rp, 0, sizeof(rp));
    rp.code = code;
    rp.lifetime = lifetime;
    rp.home_addr = addr(ADDR_HOA);
    rp.home_agent = addr(ADDR_HA);
    rp.identification = ident;

    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    mip_put_reg_reply(&w, &rp);
    mip_put_nai(&w, NAI, strlen(NAI));
    mip_put_auth_hmac_md5(&w, MIP_EXT_MN_HA_AUTH, SPI_MN_HA, key_mn_ha, sizeof(key_mn_ha) - 1);
    check_writer(&w, "registration reply");

    struct mip_reg_reply d;
    enum mip_err e = mip_get_reg_reply(buf, w.len, &d, NULL);
    if (e != MIP_OK)
        fail("decoding our registration reply", e);
    if (d.code != code || d.identification != ident || !d.ext.mn_ha.present ||
        !mip_verify_auth_hmac_md5(buf, &d.ext.mn_ha, key_mn_ha, sizeof(key_mn_ha) - 1))
        fail("registration reply round trip", MIP_ERR_BAD_VALUE);
    return w.len;
}

static size_t build_experimental(uint8_t *buf, size_t cap, const struct mip_experimental *m,
                                 bool with_vpn_info, bool bad_length)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    mip_put_experimental(&w, m);
    if (with_vpn_info)
        mip_put_cvse(&w, MIP_DEFAULT_VENDOR_ID, VSE_TYPE_VPN_INFO, vpn_info, sizeof(vpn_info) - 1);
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, SPI_RO, key_ro, sizeof(key_ro) - 1);
    check_writer(&w, "experimental message");

    struct mip_experimental d;
    enum mip_err e = mip_get_experimental(buf, w.len, &d, NULL);
    if (e != MIP_OK)
        fail("decoding our experimental message", e);
    uint32_t spi = 0;
    if (d.subtype != m->subtype ||
        !mip_verify_ro_auth(buf, w.len, &d.ext, MIP_DEFAULT_VENDOR_ID, key_ro, sizeof(key_ro) - 1,
                            &spi) ||
        spi != SPI_RO)
        fail("experimental message round trip", MIP_ERR_BAD_VALUE);
    if (bad_length)
        buf[1]++; /* deliberately wrong Length octet */
    return w.len;
}

static size_t build_agent_adv(uint8_t *buf, size_t cap)
{
    struct mip_agent_adv a;
    memset(&a, 0, sizeof(a));
    a.code = 16; /* mobility agent only, no common traffic (RFC 5944 §2.1) */
    a.adv_lifetime = ADV_LIFETIME;
    a.n_routers = 1;
    a.routers[0] = addr(ADDR_FA);
    a.pref[0] = 0;
    a.seq = ADV_SEQ;
    a.reg_lifetime = ADV_REG_LIFETIME;
    a.flags = MIP_ADV_FLAG_R | MIP_ADV_FLAG_F | MIP_ADV_FLAG_T;
    a.n_coa = 1;
    a.coa[0] = addr(ADDR_FA);
    a.has_challenge = true;
    a.challenge_len = sizeof(adv_challenge);
    memcpy(a.challenge, adv_challenge, sizeof(adv_challenge));
    size_t n = mip_put_agent_adv(buf, cap, &a);
    if (n == 0)
        fail("agent advertisement", MIP_ERR_NOSPACE);

    struct mip_agent_adv d;
    enum mip_err e = mip_get_agent_adv(buf, n, &d);
    if (e != MIP_OK)
        fail("decoding our agent advertisement", e);
    if (d.seq != ADV_SEQ || d.n_coa != 1 || !d.has_challenge ||
        d.challenge_len != sizeof(adv_challenge))
        fail("agent advertisement round trip", MIP_ERR_BAD_VALUE);
    return n;
}

static size_t build_agent_solicit(uint8_t *buf, size_t cap)
{
    size_t n = mip_put_agent_solicit(buf, cap);
    if (n == 0)
        fail("agent solicitation", MIP_ERR_NOSPACE);
    enum mip_err e = mip_get_agent_solicit(buf, n);
    if (e != MIP_OK)
        fail("decoding our agent solicitation", e);
    return n;
}

int main(int argc, char **argv)
{
    bool bad_length = false;
    const char *path = NULL;
    bool usage_error = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bad-length") == 0)
            bad_length = true;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            usage_error = true;
    }
    if (!path || usage_error) {
        fprintf(stderr, "usage: %s [--bad-length] OUT.pcap\n", argv[0]);
        return 2;
    }

    struct out o = {.f = fopen(path, "wb")};
    if (!o.f) {
        perror(path);
        return 1;
    }
    pcap_header(&o);

    uint8_t buf[MIP_MAX_MSG];
    size_t n;

    n = build_agent_solicit(buf, sizeof(buf));
    emit_icmp(&o, ADDR_HOA, ADDR_ALL_ROUTERS, buf, n, "Agent Solicitation (ICMP 10)");

    n = build_agent_adv(buf, sizeof(buf));
    emit_icmp(&o, ADDR_FA, ADDR_ALL_NODES, buf, n,
              "Agent Advertisement (ICMP 9 code 16, mobility ext 16 R F T, challenge ext 24)");

    n = build_reg_request(buf, sizeof(buf));
    emit_udp(&o, ADDR_HOA, MN_PORT, ADDR_FA, MIP_UDP_PORT, buf, n,
             "Registration Request (T; NAI, CVSE, NVSE, MN-HA auth, encap-delivery, "
             "challenge, MN-AAA auth)");

    n = build_reg_reply(buf, sizeof(buf), MIP_CODE_ACCEPTED, RRQ_LIFETIME, RRQ_IDENT);
    emit_udp(&o, ADDR_FA, MIP_UDP_PORT, ADDR_HOA, MN_PORT, buf, n,
             "Registration Reply, code 0 accepted (NAI, MN-HA auth)");

    n = build_reg_reply(buf, sizeof(buf), MIP_CODE_HA_MN_AUTH_FAILED, 0, RRQ_DENIED_IDENT);
    emit_udp(&o, ADDR_FA, MIP_UDP_PORT, ADDR_HOA, MN_PORT, buf, n,
             "Registration Reply, code 131 denied by HA: MN failed authentication");

    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_UPDATE;
    m.u.bu.flags = MIP_BU_FLAG_A | MIP_BU_FLAG_I;
    m.u.bu.lifetime = BU_LIFETIME;
    m.u.bu.home_addr = addr(ADDR_HOA);
    m.u.bu.care_of_addr = addr(ADDR_FA);
    m.u.bu.identification = BU_IDENT;
    n = build_experimental(buf, sizeof(buf), &m, true, bad_length);
    emit_udp(&o, ADDR_HA, MIP_UDP_PORT, ADDR_CA, MIP_UDP_PORT, buf, n,
             bad_length ? "Binding Update (type 255/18) with a WRONG Length octet"
                        : "Binding Update (type 255/18; VPN-info CVSE, RO-auth CVSE)");

    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_ACK;
    m.u.ba.status = 0;
    m.u.ba.lifetime = BU_LIFETIME;
    m.u.ba.home_addr = addr(ADDR_HOA);
    m.u.ba.identification = BU_IDENT;
    n = build_experimental(buf, sizeof(buf), &m, false, false);
    emit_udp(&o, ADDR_CA, MIP_UDP_PORT, ADDR_HA, MIP_UDP_PORT, buf, n,
             "Binding Acknowledge (type 255/19, status 0; RO-auth CVSE)");

    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_REQUEST;
    m.u.br.home_addr = addr(ADDR_HOA);
    m.u.br.identification = BR_IDENT;
    n = build_experimental(buf, sizeof(buf), &m, false, false);
    emit_udp(&o, ADDR_CA, MIP_UDP_PORT, ADDR_HA, MIP_UDP_PORT, buf, n,
             "Binding Request (type 255/17; RO-auth CVSE), as a PCN sends it to the HA");

    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_WARNING;
    m.u.bw.home_addr = addr(ADDR_HOA);
    m.u.bw.target_node = addr(ADDR_CA);
    n = build_experimental(buf, sizeof(buf), &m, false, false);
    emit_udp(&o, ADDR_FA, MIP_UDP_PORT, ADDR_HA, MIP_UDP_PORT, buf, n,
             "Binding Warning (type 255/16; RO-auth CVSE)");

    if (fclose(o.f) != 0 && !o.err)
        o.err = errno ? errno : EIO;
    if (o.err) {
        fprintf(stderr, "%s: %s\n", path, strerror(o.err));
        return 1;
    }
    return 0;
}
