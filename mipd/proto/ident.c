/* Identification by timestamp (RFC 5944 §5.7) and human-readable names. */
#include "codec_internal.h"

#include <time.h>

#include <openssl/rand.h>

uint64_t mip_ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec + MIP_NTP_UNIX_OFFSET;
    uint64_t frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
    return ((sec & 0xffffffffu) << 32) | (frac & 0xffffffffu);
}

uint64_t mip_ident_now(void)
{
    uint64_t now = mip_ntp_now();
    uint8_t r[4];
    uint32_t low;
    if (RAND_bytes(r, sizeof(r)) == 1)
        low = mip_rd32(r);
    else
        low = (uint32_t)now; /* fall back to the clock's fraction */
    return (now & 0xffffffff00000000ull) | low;
}

enum mip_ident_verdict mip_ident_check(uint64_t ident, uint64_t last_accepted, uint64_t now_ntp,
                                       uint32_t window_s)
{
    /* Signed 32-bit difference of the seconds so NTP era roll-over works. */
    int64_t diff = (int32_t)((uint32_t)(ident >> 32) - (uint32_t)(now_ntp >> 32));
    if (diff > (int64_t)window_s || -diff > (int64_t)window_s)
        return MIP_IDENT_STALE;
    if (last_accepted != 0 && ident <= last_accepted)
        return MIP_IDENT_REPLAY;
    return MIP_IDENT_OK;
}

uint64_t mip_ident_resync(uint64_t request_ident, uint64_t now_ntp)
{
    return (now_ntp & 0xffffffff00000000ull) | (request_ident & 0xffffffffu);
}

const char *mip_err_str(enum mip_err e)
{
    switch (e) {
    case MIP_OK:
        return "ok";
    case MIP_ERR_TRUNCATED:
        return "truncated";
    case MIP_ERR_BAD_TYPE:
        return "bad message type";
    case MIP_ERR_BAD_LENGTH:
        return "bad length";
    case MIP_ERR_UNKNOWN_CRITICAL_EXT:
        return "unknown non-skippable extension";
    case MIP_ERR_DUPLICATE_EXT:
        return "duplicate extension";
    case MIP_ERR_EXT_ORDER:
        return "extension out of order";
    case MIP_ERR_RESERVED_BITS:
        return "reserved bits set";
    case MIP_ERR_BAD_VALUE:
        return "bad field value";
    case MIP_ERR_NOSPACE:
        return "no space in output buffer";
    case MIP_ERR_BAD_CHECKSUM:
        return "bad checksum";
    }
    return "unknown error";
}

const char *mip_code_str(uint8_t code)
{
    switch (code) {
    case MIP_CODE_ACCEPTED:
        return "registration accepted";
    case MIP_CODE_ACCEPTED_NO_SIMUL:
        return "registration accepted, but simultaneous mobility bindings unsupported";
    case MIP_CODE_FA_UNSPECIFIED:
        return "FA: reason unspecified";
    case MIP_CODE_FA_ADMIN_PROHIBITED:
        return "FA: administratively prohibited";
    case MIP_CODE_FA_INSUFFICIENT_RESOURCES:
        return "FA: insufficient resources";
    case MIP_CODE_FA_MN_AUTH_FAILED:
        return "FA: mobile node failed authentication";
    case MIP_CODE_FA_HA_AUTH_FAILED:
        return "FA: home agent failed authentication";
    case MIP_CODE_FA_LIFETIME_TOO_LONG:
        return "FA: requested lifetime too long";
    case MIP_CODE_FA_POORLY_FORMED_REQUEST:
        return "FA: poorly formed request";
    case MIP_CODE_FA_POORLY_FORMED_REPLY:
        return "FA: poorly formed reply";
    case MIP_CODE_FA_ENCAP_UNAVAILABLE:
        return "FA: requested encapsulation unavailable";
    case MIP_CODE_FA_REVTUN_UNAVAILABLE:
        return "FA: requested reverse tunnel unavailable";
    case MIP_CODE_FA_REVTUN_MANDATORY:
        return "FA: reverse tunnel is mandatory and 'T' bit not set";
    case MIP_CODE_FA_INVALID_COA:
        return "FA: invalid care-of address";
    case MIP_CODE_FA_REG_TIMEOUT:
        return "FA: registration timeout";
    case MIP_CODE_FA_DELIVERY_STYLE_UNSUPPORTED:
        return "FA: delivery style not supported";
    case MIP_CODE_FA_HOME_NET_UNREACHABLE:
        return "FA: home network unreachable";
    case MIP_CODE_FA_HA_HOST_UNREACHABLE:
        return "FA: home agent host unreachable";
    case MIP_CODE_FA_HA_PORT_UNREACHABLE:
        return "FA: home agent port unreachable";
    case MIP_CODE_FA_HA_UNREACHABLE:
        return "FA: home agent unreachable";
    case MIP_CODE_FA_UNKNOWN_CHALLENGE:
        return "FA: unknown challenge";
    case MIP_CODE_FA_MISSING_CHALLENGE:
        return "FA: missing challenge";
    case MIP_CODE_FA_STALE_CHALLENGE:
        return "FA: stale challenge";
    case MIP_CODE_HA_UNSPECIFIED:
        return "HA: reason unspecified";
    case MIP_CODE_HA_ADMIN_PROHIBITED:
        return "HA: administratively prohibited";
    case MIP_CODE_HA_INSUFFICIENT_RESOURCES:
        return "HA: insufficient resources";
    case MIP_CODE_HA_MN_AUTH_FAILED:
        return "HA: mobile node failed authentication";
    case MIP_CODE_HA_FA_AUTH_FAILED:
        return "HA: foreign agent failed authentication";
    case MIP_CODE_HA_ID_MISMATCH:
        return "HA: registration identification mismatch";
    case MIP_CODE_HA_POORLY_FORMED_REQUEST:
        return "HA: poorly formed request";
    case MIP_CODE_HA_TOO_MANY_BINDINGS:
        return "HA: too many simultaneous mobility bindings";
    case MIP_CODE_HA_UNKNOWN_HA:
        return "HA: unknown home agent address";
    case MIP_CODE_HA_REVTUN_UNAVAILABLE:
        return "HA: requested reverse tunnel unavailable";
    case MIP_CODE_HA_REVTUN_MANDATORY:
        return "HA: reverse tunnel is mandatory and 'T' bit not set";
    case MIP_CODE_HA_ENCAP_UNAVAILABLE:
        return "HA: requested encapsulation unavailable";
    }
    return "unknown code";
}

const char *mip_ba_status_str(uint8_t status)
{
    switch (status) {
    case MIP_BA_ACCEPTED:
        return "binding update accepted";
    case MIP_BA_UNSPECIFIED:
        return "reason unspecified";
    case MIP_BA_PROHIBITED:
        return "administratively prohibited";
    case MIP_BA_INSUFFICIENT_RESOURCES:
        return "insufficient resources";
    case MIP_BA_AUTH_FAILED:
        return "sending node failed authentication";
    case MIP_BA_ID_MISMATCH:
        return "identification mismatch";
    case MIP_BA_POORLY_FORMED:
        return "poorly formed binding update";
    case MIP_BA_UNKNOWN_PEER:
        return "unknown peer";
    default:
        return "unknown status";
    }
}
