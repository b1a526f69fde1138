/* ICMP agent advertisement and solicitation (RFC 5944 §2.1, RFC 1256,
 * RFC 3012 §2 challenge extension). */
#include "codec_internal.h"

#define ICMP_ROUTER_ADV 9
#define ICMP_ROUTER_SOLICIT 10
#define ICMP_HDR 8
#define ADDR_ENTRY_WORDS 2 /* RFC 1256: router address + preference level */

/* RFC 1071 Internet checksum over buf[0..len). */
static uint16_t inet_cksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    size_t i;
    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)((buf[i] << 8) | buf[i + 1]);
    if (len & 1)
        sum += (uint32_t)(buf[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t mip_put_agent_adv(uint8_t *buf, size_t cap, const struct mip_agent_adv *a)
{
    if (a->n_routers > MIP_ADV_MAX_ROUTERS || a->n_coa > MIP_ADV_MAX_COA ||
        (a->has_prefix_len && a->n_prefix_len > MIP_ADV_MAX_ROUTERS) ||
        (a->has_challenge && a->challenge_len > MIP_CHALLENGE_MAX))
        return 0;
    size_t need = ICMP_HDR + 8 * (size_t)a->n_routers + 2 + 6 + 4 * (size_t)a->n_coa;
    if (a->has_prefix_len)
        need += 2 + a->n_prefix_len;
    if (a->has_challenge)
        need += 2 + (size_t)a->challenge_len;
    if (need > cap)
        return 0;

    uint8_t *p = buf;
    p[0] = ICMP_ROUTER_ADV;
    p[1] = a->code;
    mip_wr16(p + 2, 0);
    p[4] = (uint8_t)a->n_routers;
    p[5] = ADDR_ENTRY_WORDS;
    mip_wr16(p + 6, a->adv_lifetime);
    p += ICMP_HDR;
    for (unsigned i = 0; i < a->n_routers; i++) {
        memcpy(p, &a->routers[i].s_addr, 4);
        mip_wr32(p + 4, (uint32_t)a->pref[i]);
        p += 8;
    }
    /* Mobility Agent Advertisement extension (RFC 5944 §2.1.1). */
    p[0] = MIP_ADV_EXT_MOBILITY;
    p[1] = (uint8_t)(6 + 4 * a->n_coa);
    mip_wr16(p + 2, a->seq);
    mip_wr16(p + 4, a->reg_lifetime);
    mip_wr16(p + 6, a->flags);
    p += 8;
    for (unsigned i = 0; i < a->n_coa; i++) {
        memcpy(p, &a->coa[i].s_addr, 4);
        p += 4;
    }
    if (a->has_prefix_len) { /* RFC 5944 §2.1.2 */
        p[0] = MIP_ADV_EXT_PREFIX_LEN;
        p[1] = (uint8_t)a->n_prefix_len;
        memcpy(p + 2, a->prefix_len, a->n_prefix_len);
        p += 2 + a->n_prefix_len;
    }
    if (a->has_challenge) { /* RFC 3012 §2 */
        p[0] = MIP_ADV_EXT_CHALLENGE;
        p[1] = a->challenge_len;
        memcpy(p + 2, a->challenge, a->challenge_len);
        p += 2 + a->challenge_len;
    }
    mip_wr16(buf + 2, inet_cksum(buf, need));
    return need;
}

enum mip_err mip_get_agent_adv(const uint8_t *buf, size_t len, struct mip_agent_adv *a)
{
    memset(a, 0, sizeof(*a));
    if (len < 1)
        return MIP_ERR_TRUNCATED;
    if (buf[0] != ICMP_ROUTER_ADV)
        return MIP_ERR_BAD_TYPE;
    if (len < ICMP_HDR)
        return MIP_ERR_TRUNCATED;
    a->code = buf[1];
    if (a->code != 0 && a->code != 16)
        return MIP_ERR_BAD_VALUE;
    unsigned nr = buf[4];
    if (buf[5] != ADDR_ENTRY_WORDS)
        return MIP_ERR_BAD_LENGTH;
    if (nr > MIP_ADV_MAX_ROUTERS)
        return MIP_ERR_BAD_LENGTH; /* more than we can hold */
    a->adv_lifetime = mip_rd16(buf + 6);
    size_t off = ICMP_HDR;
    if (len - off < 8 * (size_t)nr)
        return MIP_ERR_TRUNCATED;
    a->n_routers = nr;
    for (unsigned i = 0; i < nr; i++) {
        memcpy(&a->routers[i].s_addr, buf + off, 4);
        a->pref[i] = (int32_t)mip_rd32(buf + off + 4);
        off += 8;
    }

    bool has_mobility = false;
    while (off < len) {
        uint8_t type = buf[off];
        if (type == MIP_ADV_EXT_PAD) { /* RFC 5944 §2.1.3: one octet, no length */
            off++;
            continue;
        }
        if (len - off < 2)
            return MIP_ERR_TRUNCATED;
        size_t elen = buf[off + 1];
        if (len - off - 2 < elen)
            return MIP_ERR_TRUNCATED;
        const uint8_t *d = buf + off + 2;
        off += 2 + elen;
        switch (type) {
        case MIP_ADV_EXT_MOBILITY:
            if (has_mobility)
                return MIP_ERR_DUPLICATE_EXT;
            if (elen < 6 || (elen - 6) % 4 != 0)
                return MIP_ERR_BAD_LENGTH;
            if ((elen - 6) / 4 > MIP_ADV_MAX_COA)
                return MIP_ERR_BAD_LENGTH; /* more than we can hold */
            has_mobility = true;
            a->seq = mip_rd16(d);
            a->reg_lifetime = mip_rd16(d + 2);
            a->flags = mip_rd16(d + 4); /* reserved bits ignored (RFC 5944 §2.1.1) */
            a->n_coa = (unsigned)((elen - 6) / 4);
            for (unsigned i = 0; i < a->n_coa; i++)
                memcpy(&a->coa[i].s_addr, d + 6 + 4 * i, 4);
            break;
        case MIP_ADV_EXT_PREFIX_LEN:
            /* RFC 5944 §2.1.2: follows the mobility extension. */
            if (!has_mobility)
                return MIP_ERR_EXT_ORDER;
            if (a->has_prefix_len)
                return MIP_ERR_DUPLICATE_EXT;
            if (elen > MIP_ADV_MAX_ROUTERS)
                return MIP_ERR_BAD_LENGTH;
            a->has_prefix_len = true;
            a->n_prefix_len = (unsigned)elen;
            memcpy(a->prefix_len, d, elen);
            break;
        case MIP_ADV_EXT_CHALLENGE:
            if (a->has_challenge)
                return MIP_ERR_DUPLICATE_EXT;
            if (elen < 4 || elen > MIP_CHALLENGE_MAX) /* RFC 3012 §2: SHOULD be >= 4 */
                return MIP_ERR_BAD_LENGTH;
            a->has_challenge = true;
            a->challenge_len = (uint8_t)elen;
            memcpy(a->challenge, d, elen);
            break;
        default:
            if (type < 128)
                return MIP_ERR_UNKNOWN_CRITICAL_EXT;
            break; /* skippable */
        }
    }
    /* A router advertisement without the mobility extension is no agent advertisement. */
    if (!has_mobility)
        return MIP_ERR_BAD_TYPE;
    if (inet_cksum(buf, len) != 0)
        return MIP_ERR_BAD_CHECKSUM;
    return MIP_OK;
}

size_t mip_put_agent_solicit(uint8_t *buf, size_t cap)
{
    if (cap < ICMP_HDR)
        return 0;
    memset(buf, 0, ICMP_HDR);
    buf[0] = ICMP_ROUTER_SOLICIT;
    mip_wr16(buf + 2, inet_cksum(buf, ICMP_HDR));
    return ICMP_HDR;
}

enum mip_err mip_get_agent_solicit(const uint8_t *buf, size_t len)
{
    if (len < 1)
        return MIP_ERR_TRUNCATED;
    if (buf[0] != ICMP_ROUTER_SOLICIT)
        return MIP_ERR_BAD_TYPE;
    if (len < ICMP_HDR)
        return MIP_ERR_TRUNCATED;
    if (buf[1] != 0)
        return MIP_ERR_BAD_VALUE; /* RFC 1256 §5.1: code 0 */
    if (inet_cksum(buf, len) != 0)
        return MIP_ERR_BAD_CHECKSUM;
    return MIP_OK;
}
