/* Diameter dictionary: RFC 4004 + our vendor AVPs (see mip4vpn_dict.h and dict/README.md).
 *
 * Every object is looked up before it is created, so this code can run after (or before)
 * freeDiameter's dict_mip6i / dict_mip6a / dict_nas_mipv6, and any number of times. Where
 * those extensions define an RFC 4004 object (AVPs 333, 334, 341, 343, 345, 346, 348, 367, 491
 * and the enumerated types of 345/346), our definition is the same as theirs (same flags, base
 * type, type name and constant names), so whichever loads second finds an identical object.
 */
#include "mip4vpn_dict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 4004 AVPs: M must, V must not (the same fixed flags dict_mip6i uses). */
#define IETF_MASK (AVP_FLAG_VENDOR | AVP_FLAG_MANDATORY)
#define IETF_VAL (AVP_FLAG_MANDATORY)
/* Our AVPs: V must, M must not (a peer that does not know them still does plain Mobile IP). */
#define VND_MASK (AVP_FLAG_VENDOR | AVP_FLAG_MANDATORY)
#define VND_VAL (AVP_FLAG_VENDOR)

static uint32_t g_vendor_id = MIP4VPN_DEFAULT_VENDOR_ID;

/* ---- enumerated types ----------------------------------------------------------------- */

struct enum_def {
    const char *name;
    int32_t value;
};

struct type_def {
    const char *name; /* derived type name */
    const struct enum_def *vals;
    size_t nvals;
};

/* Names as dict_mip6i spells them, so both can be loaded in any order. */
static const struct enum_def alg_vals[] = {{"HMAC-SHA-1 [HMAC]", MIP4_ALGORITHM_HMAC_SHA1}};
static const struct enum_def replay_vals[] = {{"None", MIP4_REPLAY_NONE},
                                              {"Timestamp", MIP4_REPLAY_TIMESTAMPS},
                                              {"Nonces", MIP4_REPLAY_NONCES}};
static const struct enum_def sec_vals[] = {
    {"ESP", MIP4VPN_SEC_ESP}, {"AH", MIP4VPN_SEC_AH}, {"ENCAP-ONLY", MIP4VPN_SEC_ENCAP_ONLY}};
static const struct enum_def gw_vals[] = {{"STATIC", MIP4VPN_GW_STATIC},
                                          {"DYNAMIC", MIP4VPN_GW_DYNAMIC}};
static const struct enum_def encr_vals[] = {
    {"ENCR_NULL", MIP4VPN_ENCR_NULL},
    {"ENCR_AES_CBC", MIP4VPN_ENCR_AES_CBC},
    {"ENCR_AES_CTR", MIP4VPN_ENCR_AES_CTR},
    {"ENCR_AES_GCM_16", MIP4VPN_ENCR_AES_GCM_16},
    {"ENCR_CHACHA20_POLY1305", MIP4VPN_ENCR_CHACHA20_POLY1305}};
static const struct enum_def integ_vals[] = {
    {"AUTH_NONE", MIP4VPN_AUTH_NONE},
    {"AUTH_HMAC_MD5_96", MIP4VPN_AUTH_HMAC_MD5_96},
    {"AUTH_HMAC_SHA1_96", MIP4VPN_AUTH_HMAC_SHA1_96},
    {"AUTH_HMAC_SHA2_256_128", MIP4VPN_AUTH_HMAC_SHA2_256_128},
    {"AUTH_HMAC_SHA2_384_192", MIP4VPN_AUTH_HMAC_SHA2_384_192},
    {"AUTH_HMAC_SHA2_512_256", MIP4VPN_AUTH_HMAC_SHA2_512_256}};
static const struct enum_def svc_vals[] = {
    {"RELOAD-PROFILES", MIP4VPN_SERVICE_UPDATE_RELOAD_PROFILES}};
static const struct enum_def share_vals[] = {{"SHARED", MIP4VPN_VPN_SHARE_SHARED},
                                             {"PER-USER", MIP4VPN_VPN_SHARE_PER_USER}};

#define T_ALG "Enumerated(MIP-Algorithm-Type)"
#define T_REPLAY "Enumerated(MIP-Replay-Mode)"
#define T_SEC "Enumerated(" MIP4VPN_N_SECURITY_TYPE ")"
#define T_GW "Enumerated(" MIP4VPN_N_DESTINATION_GATEWAY_TYPE ")"
#define T_ENCR "Enumerated(" MIP4VPN_N_ENCRYPTION_ALGORITHM ")"
#define T_INTEG "Enumerated(" MIP4VPN_N_INTEGRITY_ALGORITHM ")"
#define T_SVC "Enumerated(" MIP4VPN_N_SERVICE_UPDATE_REQUEST ")"
#define T_SHARE "Enumerated(" MIP4VPN_N_VPN_SHARE ")"

static const struct type_def enum_types[] = {
    {T_ALG, alg_vals, N_ELEM(alg_vals)},    {T_REPLAY, replay_vals, N_ELEM(replay_vals)},
    {T_SEC, sec_vals, N_ELEM(sec_vals)},    {T_GW, gw_vals, N_ELEM(gw_vals)},
    {T_ENCR, encr_vals, N_ELEM(encr_vals)}, {T_INTEG, integ_vals, N_ELEM(integ_vals)},
    {T_SVC, svc_vals, N_ELEM(svc_vals)},    {T_SHARE, share_vals, N_ELEM(share_vals)},
};

/* ---- AVPs ------------------------------------------------------------------------------- */

struct avp_def {
    uint32_t code;
    const char *name;
    enum dict_avp_basetype base;
    const char *type; /* derived type (Address, DiameterIdentity, ...) or NULL */
};

static const struct avp_def ietf_avps[] = {
    {MIP4_AVP_FA_TO_HA_SPI, "MIP-FA-to-HA-SPI", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_FA_TO_MN_SPI, "MIP-FA-to-MN-SPI", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_REG_REQUEST, "MIP-Reg-Request", AVP_TYPE_OCTETSTRING, NULL},
    {MIP4_AVP_REG_REPLY, "MIP-Reg-Reply", AVP_TYPE_OCTETSTRING, NULL},
    {MIP4_AVP_MN_AAA_AUTH, "MIP-MN-AAA-Auth", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_HA_TO_FA_SPI, "MIP-HA-to-FA-SPI", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_MN_TO_FA_MSA, "MIP-MN-to-FA-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_FA_TO_MN_MSA, "MIP-FA-to-MN-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_FA_TO_HA_MSA, "MIP-FA-to-HA-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_HA_TO_FA_MSA, "MIP-HA-to-FA-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_MN_TO_HA_MSA, "MIP-MN-to-HA-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_HA_TO_MN_MSA, "MIP-HA-to-MN-MSA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_MOBILE_NODE_ADDRESS, "MIP-Mobile-Node-Address", AVP_TYPE_OCTETSTRING, "Address"},
    {MIP4_AVP_HOME_AGENT_ADDRESS, "MIP-Home-Agent-Address", AVP_TYPE_OCTETSTRING, "Address"},
    {MIP4_AVP_NONCE, "MIP-Nonce", AVP_TYPE_OCTETSTRING, NULL},
    {MIP4_AVP_CANDIDATE_HOME_AGENT_HOST, "MIP-Candidate-Home-Agent-Host", AVP_TYPE_OCTETSTRING,
     "DiameterIdentity"},
    {MIP4_AVP_FEATURE_VECTOR, "MIP-Feature-Vector", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_AUTH_INPUT_DATA_LENGTH, "MIP-Auth-Input-Data-Length", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_AUTHENTICATOR_LENGTH, "MIP-Authenticator-Length", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_AUTHENTICATOR_OFFSET, "MIP-Authenticator-Offset", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_MN_AAA_SPI, "MIP-MN-AAA-SPI", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_FILTER_RULE, "MIP-Filter-Rule", AVP_TYPE_OCTETSTRING, "IPFilterRule"},
    {MIP4_AVP_SESSION_KEY, "MIP-Session-Key", AVP_TYPE_OCTETSTRING, NULL},
    {MIP4_AVP_FA_CHALLENGE, "MIP-FA-Challenge", AVP_TYPE_OCTETSTRING, NULL},
    {MIP4_AVP_ALGORITHM_TYPE, "MIP-Algorithm-Type", AVP_TYPE_INTEGER32, T_ALG},
    {MIP4_AVP_REPLAY_MODE, "MIP-Replay-Mode", AVP_TYPE_INTEGER32, T_REPLAY},
    {MIP4_AVP_ORIGINATING_FOREIGN_AAA, "MIP-Originating-Foreign-AAA", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_HOME_AGENT_HOST, "MIP-Home-Agent-Host", AVP_TYPE_GROUPED, NULL},
    {MIP4_AVP_MSA_LIFETIME, "MIP-MSA-Lifetime", AVP_TYPE_UNSIGNED32, NULL},
    {MIP4_AVP_MN_HA_SPI, "MIP-MN-HA-SPI", AVP_TYPE_UNSIGNED32, NULL},
};

static const struct avp_def vendor_avps[] = {
    {MIP4VPN_AVP_VPN_PROFILE, MIP4VPN_N_VPN_PROFILE, AVP_TYPE_GROUPED, NULL},
    {MIP4VPN_AVP_PROFILE_NUMBER, MIP4VPN_N_PROFILE_NUMBER, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_SOURCE_PREFIX, MIP4VPN_N_SOURCE_PREFIX, AVP_TYPE_OCTETSTRING, "Address"},
    {MIP4VPN_AVP_SOURCE_PREFIX_LENGTH, MIP4VPN_N_SOURCE_PREFIX_LENGTH, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_DESTINATION_PREFIX, MIP4VPN_N_DESTINATION_PREFIX, AVP_TYPE_OCTETSTRING, "Address"},
    {MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH, MIP4VPN_N_DESTINATION_PREFIX_LENGTH,
     AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_DSCP_UP, MIP4VPN_N_DSCP_UP, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_DSCP_DOWN, MIP4VPN_N_DSCP_DOWN, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_SECURITY_TYPE, MIP4VPN_N_SECURITY_TYPE, AVP_TYPE_INTEGER32, T_SEC},
    {MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY, MIP4VPN_N_TUNNEL_SOURCE_GATEWAY, AVP_TYPE_OCTETSTRING,
     "Address"},
    {MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY, MIP4VPN_N_TUNNEL_DESTINATION_GATEWAY,
     AVP_TYPE_OCTETSTRING, "Address"},
    {MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE, MIP4VPN_N_DESTINATION_GATEWAY_TYPE, AVP_TYPE_INTEGER32,
     T_GW},
    {MIP4VPN_AVP_SPI_UP, MIP4VPN_N_SPI_UP, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_SPI_DOWN, MIP4VPN_N_SPI_DOWN, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_ENCRYPTION_KEY_UP, MIP4VPN_N_ENCRYPTION_KEY_UP, AVP_TYPE_OCTETSTRING, NULL},
    {MIP4VPN_AVP_ENCRYPTION_KEY_DOWN, MIP4VPN_N_ENCRYPTION_KEY_DOWN, AVP_TYPE_OCTETSTRING, NULL},
    {MIP4VPN_AVP_AUTH_KEY_UP, MIP4VPN_N_AUTH_KEY_UP, AVP_TYPE_OCTETSTRING, NULL},
    {MIP4VPN_AVP_AUTH_KEY_DOWN, MIP4VPN_N_AUTH_KEY_DOWN, AVP_TYPE_OCTETSTRING, NULL},
    {MIP4VPN_AVP_ENCRYPTION_ALGORITHM, MIP4VPN_N_ENCRYPTION_ALGORITHM, AVP_TYPE_INTEGER32, T_ENCR},
    {MIP4VPN_AVP_INTEGRITY_ALGORITHM, MIP4VPN_N_INTEGRITY_ALGORITHM, AVP_TYPE_INTEGER32, T_INTEG},
    {MIP4VPN_AVP_PROFILE_LIFETIME, MIP4VPN_N_PROFILE_LIFETIME, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_PROFILE_CACHE, MIP4VPN_N_PROFILE_CACHE, AVP_TYPE_UNSIGNED32, NULL},
    {MIP4VPN_AVP_PREVIOUS_FA_ADDRESS, MIP4VPN_N_PREVIOUS_FA_ADDRESS, AVP_TYPE_OCTETSTRING,
     "Address"},
    {MIP4VPN_AVP_SERVICE_UPDATE_REQUEST, MIP4VPN_N_SERVICE_UPDATE_REQUEST, AVP_TYPE_INTEGER32,
     T_SVC},
    {MIP4VPN_AVP_VPN_SHARE, MIP4VPN_N_VPN_SHARE, AVP_TYPE_INTEGER32, T_SHARE},
};

/* ---- rules (ABNF) ------------------------------------------------------------------------ */

/* Which vendor space a rule's AVP lives in. */
enum { V_IETF = 0, V_OURS = 1 };

struct rule_def {
    int space;
    const char *avp;
    enum rule_position pos;
    int min;
    int max;
};

#define HEAD(n)                                                                                    \
    {                                                                                              \
        V_IETF, n, RULE_FIXED_HEAD, -1, 1                                                          \
    }
#define REQ(n)                                                                                     \
    {                                                                                              \
        V_IETF, n, RULE_REQUIRED, -1, 1                                                            \
    }
#define OPT(n)                                                                                     \
    {                                                                                              \
        V_IETF, n, RULE_OPTIONAL, -1, 1                                                            \
    }
#define OPTN(n)                                                                                    \
    {                                                                                              \
        V_IETF, n, RULE_OPTIONAL, -1, -1                                                           \
    }
#define VREQ(n)                                                                                    \
    {                                                                                              \
        V_OURS, n, RULE_REQUIRED, -1, 1                                                            \
    }
#define VOPT(n)                                                                                    \
    {                                                                                              \
        V_OURS, n, RULE_OPTIONAL, -1, 1                                                            \
    }
#define VOPTN(n)                                                                                   \
    {                                                                                              \
        V_OURS, n, RULE_OPTIONAL, -1, -1                                                           \
    }

/* RFC 4004 §7: grouped AVPs. MIP-MN-FA-SPI and MIP-HA-to-MN-SPI, named in the RFC's ABNF of
 * MIP-MN-to-FA-MSA and MIP-HA-to-MN-MSA, were never assigned codes and are left out. */
static const struct rule_def r_mn_aaa_auth[] = {
    REQ("MIP-MN-AAA-SPI"), REQ("MIP-Auth-Input-Data-Length"), REQ("MIP-Authenticator-Length"),
    REQ("MIP-Authenticator-Offset")};
static const struct rule_def r_mn_to_fa_msa[] = {REQ("MIP-Algorithm-Type"), REQ("MIP-Nonce")};
static const struct rule_def r_fa_to_mn_msa[] = {REQ("MIP-FA-to-MN-SPI"), REQ("MIP-Algorithm-Type"),
                                                 REQ("MIP-Session-Key")};
static const struct rule_def r_fa_to_ha_msa[] = {REQ("MIP-FA-to-HA-SPI"), REQ("MIP-Algorithm-Type"),
                                                 REQ("MIP-Session-Key")};
static const struct rule_def r_ha_to_fa_msa[] = {REQ("MIP-HA-to-FA-SPI"), REQ("MIP-Algorithm-Type"),
                                                 REQ("MIP-Session-Key")};
static const struct rule_def r_mn_to_ha_msa[] = {REQ("MIP-MN-HA-SPI"), REQ("MIP-Algorithm-Type"),
                                                 REQ("MIP-Replay-Mode"), REQ("MIP-Nonce")};
static const struct rule_def r_ha_to_mn_msa[] = {REQ("MIP-Algorithm-Type"), REQ("MIP-Replay-Mode"),
                                                 REQ("MIP-Session-Key")};
static const struct rule_def r_orig_foreign_aaa[] = {REQ("Origin-Realm"), REQ("Origin-Host")};
/* The same rules dict_mip6i / dict_nas_mipv6 give 348. */
static const struct rule_def r_ha_host[] = {REQ("Destination-Realm"), REQ("Destination-Host")};

/* Our VPN profile. SPIs, keys and algorithms are absent when the profile uses the pre-shared
 * default gateway-to-gateway SA (vpnshare = 0) or the security type is ENCAP-ONLY. VPN-Share
 * (vpnshare) is optional so that messages from before it existed still parse; absent means
 * PER-USER unless the profile carries no keys and no SPIs (then SHARED). */
static const struct rule_def r_vpn_profile[] = {
    VREQ(MIP4VPN_N_PROFILE_NUMBER),
    VREQ(MIP4VPN_N_SOURCE_PREFIX),
    VREQ(MIP4VPN_N_SOURCE_PREFIX_LENGTH),
    VREQ(MIP4VPN_N_DESTINATION_PREFIX),
    VREQ(MIP4VPN_N_DESTINATION_PREFIX_LENGTH),
    VREQ(MIP4VPN_N_SECURITY_TYPE),
    VREQ(MIP4VPN_N_TUNNEL_SOURCE_GATEWAY),
    VREQ(MIP4VPN_N_TUNNEL_DESTINATION_GATEWAY),
    VREQ(MIP4VPN_N_DESTINATION_GATEWAY_TYPE),
    VOPT(MIP4VPN_N_DSCP_UP),
    VOPT(MIP4VPN_N_DSCP_DOWN),
    VOPT(MIP4VPN_N_SPI_UP),
    VOPT(MIP4VPN_N_SPI_DOWN),
    VOPT(MIP4VPN_N_ENCRYPTION_KEY_UP),
    VOPT(MIP4VPN_N_ENCRYPTION_KEY_DOWN),
    VOPT(MIP4VPN_N_AUTH_KEY_UP),
    VOPT(MIP4VPN_N_AUTH_KEY_DOWN),
    VOPT(MIP4VPN_N_ENCRYPTION_ALGORITHM),
    VOPT(MIP4VPN_N_INTEGRITY_ALGORITHM),
    VOPT(MIP4VPN_N_PROFILE_LIFETIME),
    VOPT(MIP4VPN_N_VPN_SHARE),
};

/* RFC 4004 §5 commands, plus our AVPs as optional members. */
static const struct rule_def r_amr[] = {
    HEAD("Session-Id"),
    REQ("Auth-Application-Id"),
    REQ("User-Name"),
    REQ("Destination-Realm"),
    REQ("Origin-Host"),
    REQ("Origin-Realm"),
    REQ("MIP-Reg-Request"),
    REQ("MIP-MN-AAA-Auth"),
    OPT("Acct-Multi-Session-Id"),
    OPT("Destination-Host"),
    OPT("Origin-State-Id"),
    OPT("MIP-Mobile-Node-Address"),
    OPT("MIP-Home-Agent-Address"),
    OPT("MIP-Feature-Vector"),
    OPT("MIP-Originating-Foreign-AAA"),
    OPT("Authorization-Lifetime"),
    OPT("Auth-Session-State"),
    OPT("MIP-FA-Challenge"),
    OPT("MIP-Candidate-Home-Agent-Host"),
    OPT("MIP-Home-Agent-Host"),
    OPT("MIP-HA-to-FA-SPI"),
    OPTN("Proxy-Info"),
    OPTN("Route-Record"),
    VOPT(MIP4VPN_N_PREVIOUS_FA_ADDRESS),
    VOPT(MIP4VPN_N_SERVICE_UPDATE_REQUEST),
};

static const struct rule_def r_ama[] = {
    HEAD("Session-Id"),
    REQ("Auth-Application-Id"),
    REQ("Result-Code"),
    REQ("Origin-Host"),
    REQ("Origin-Realm"),
    OPT("Acct-Multi-Session-Id"),
    OPT("User-Name"),
    OPT("Authorization-Lifetime"),
    OPT("Auth-Session-State"),
    OPT("Error-Message"),
    OPT("Error-Reporting-Host"),
    OPT("Re-Auth-Request-Type"),
    OPT("MIP-Feature-Vector"),
    OPT("MIP-Reg-Reply"),
    OPT("MIP-MN-to-FA-MSA"),
    OPT("MIP-MN-to-HA-MSA"),
    OPT("MIP-FA-to-MN-MSA"),
    OPT("MIP-FA-to-HA-MSA"),
    OPT("MIP-HA-to-MN-MSA"),
    OPT("MIP-MSA-Lifetime"),
    OPT("MIP-Home-Agent-Address"),
    OPT("MIP-Mobile-Node-Address"),
    OPTN("MIP-Filter-Rule"),
    OPT("Origin-State-Id"),
    OPTN("Proxy-Info"),
    VOPT(MIP4VPN_N_PROFILE_CACHE),
    VOPTN(MIP4VPN_N_VPN_PROFILE),
    VOPT(MIP4VPN_N_PREVIOUS_FA_ADDRESS),
};

static const struct rule_def r_har[] = {
    HEAD("Session-Id"),
    REQ("Auth-Application-Id"),
    REQ("Authorization-Lifetime"),
    REQ("Auth-Session-State"),
    REQ("MIP-Reg-Request"),
    REQ("Origin-Host"),
    REQ("Origin-Realm"),
    REQ("User-Name"),
    REQ("Destination-Realm"),
    REQ("MIP-Feature-Vector"),
    OPT("Destination-Host"),
    OPT("MIP-MN-to-HA-MSA"),
    OPT("MIP-MN-to-FA-MSA"),
    OPT("MIP-HA-to-MN-MSA"),
    OPT("MIP-HA-to-FA-MSA"),
    OPT("MIP-MSA-Lifetime"),
    OPT("MIP-Originating-Foreign-AAA"),
    OPT("MIP-Mobile-Node-Address"),
    OPT("MIP-Home-Agent-Address"),
    OPTN("MIP-Filter-Rule"),
    OPT("Origin-State-Id"),
    OPTN("Proxy-Info"),
    OPTN("Route-Record"),
    VOPT(MIP4VPN_N_PROFILE_CACHE),
    VOPTN(MIP4VPN_N_VPN_PROFILE),
    VOPT(MIP4VPN_N_PREVIOUS_FA_ADDRESS),
};

static const struct rule_def r_haa[] = {
    HEAD("Session-Id"),
    REQ("Auth-Application-Id"),
    REQ("Result-Code"),
    REQ("Origin-Host"),
    REQ("Origin-Realm"),
    OPT("Acct-Multi-Session-Id"),
    OPT("User-Name"),
    OPT("Error-Reporting-Host"),
    OPT("Error-Message"),
    OPT("MIP-Reg-Reply"),
    OPT("MIP-Home-Agent-Address"),
    OPT("MIP-Mobile-Node-Address"),
    OPT("MIP-FA-to-HA-SPI"),
    OPT("MIP-FA-to-MN-SPI"),
    OPT("Origin-State-Id"),
    OPTN("Proxy-Info"),
    VOPT(MIP4VPN_N_PREVIOUS_FA_ADDRESS),
};

struct group_def {
    int space;
    uint32_t code;
    const struct rule_def *rules;
    size_t nrules;
};

static const struct group_def groups[] = {
    {V_IETF, MIP4_AVP_MN_AAA_AUTH, r_mn_aaa_auth, N_ELEM(r_mn_aaa_auth)},
    {V_IETF, MIP4_AVP_MN_TO_FA_MSA, r_mn_to_fa_msa, N_ELEM(r_mn_to_fa_msa)},
    {V_IETF, MIP4_AVP_FA_TO_MN_MSA, r_fa_to_mn_msa, N_ELEM(r_fa_to_mn_msa)},
    {V_IETF, MIP4_AVP_FA_TO_HA_MSA, r_fa_to_ha_msa, N_ELEM(r_fa_to_ha_msa)},
    {V_IETF, MIP4_AVP_HA_TO_FA_MSA, r_ha_to_fa_msa, N_ELEM(r_ha_to_fa_msa)},
    {V_IETF, MIP4_AVP_MN_TO_HA_MSA, r_mn_to_ha_msa, N_ELEM(r_mn_to_ha_msa)},
    {V_IETF, MIP4_AVP_HA_TO_MN_MSA, r_ha_to_mn_msa, N_ELEM(r_ha_to_mn_msa)},
    {V_IETF, MIP4_AVP_ORIGINATING_FOREIGN_AAA, r_orig_foreign_aaa, N_ELEM(r_orig_foreign_aaa)},
    {V_IETF, MIP4_AVP_HOME_AGENT_HOST, r_ha_host, N_ELEM(r_ha_host)},
    {V_OURS, MIP4VPN_AVP_VPN_PROFILE, r_vpn_profile, N_ELEM(r_vpn_profile)},
};

struct cmd_def {
    uint32_t code;
    const char *name;
    int request;
    const struct rule_def *rules;
    size_t nrules;
};

static const struct cmd_def commands[] = {
    {MIP4_CMD_AMR, MIP4_CMD_AMR_NAME, 1, r_amr, N_ELEM(r_amr)},
    {MIP4_CMD_AMR, MIP4_CMD_AMA_NAME, 0, r_ama, N_ELEM(r_ama)},
    {MIP4_CMD_HAR, MIP4_CMD_HAR_NAME, 1, r_har, N_ELEM(r_har)},
    {MIP4_CMD_HAR, MIP4_CMD_HAA_NAME, 0, r_haa, N_ELEM(r_haa)},
};

/* ---- helpers ------------------------------------------------------------------------------ */

static int ensure_vendor(struct dictionary *dict, uint32_t id, struct dict_object **out)
{
    vendor_id_t vid = id;
    int ret = fd_dict_search(dict, DICT_VENDOR, VENDOR_BY_ID, &vid, out, ENOENT);
    if (ret == 0)
        return 0; /* whatever its name, the vendor space is the same */
    if (ret != ENOENT)
        return ret;
    struct dict_vendor_data data = {.vendor_id = vid, .vendor_name = MIP4VPN_VENDOR_NAME};
    return fd_dict_new(dict, DICT_VENDOR, &data, NULL, out);
}

static int ensure_application(struct dictionary *dict, struct dict_object **out)
{
    application_id_t aid = MIP4_APPLICATION_ID;
    int ret = fd_dict_search(dict, DICT_APPLICATION, APPLICATION_BY_ID, &aid, out, ENOENT);
    if (ret != ENOENT)
        return ret;
    struct dict_application_data data = {.application_id = aid,
                                         .application_name = MIP4_APPLICATION_NAME};
    return fd_dict_new(dict, DICT_APPLICATION, &data, NULL, out);
}

static int ensure_enum_type(struct dictionary *dict, const struct type_def *t)
{
    struct dict_object *type = NULL;
    int ret = fd_dict_search(dict, DICT_TYPE, TYPE_BY_NAME, t->name, &type, ENOENT);
    if (ret == ENOENT) {
        struct dict_type_data data = {.type_base = AVP_TYPE_INTEGER32,
                                      .type_name = (char *)t->name};
        ret = fd_dict_new(dict, DICT_TYPE, &data, NULL, &type);
    }
    if (ret)
        return ret;
    for (size_t i = 0; i < t->nvals; i++) {
        struct dict_enumval_request req = {.type_obj = type};
        req.search.enum_value.i32 = t->vals[i].value;
        struct dict_object *ev = NULL;
        ret = fd_dict_search(dict, DICT_ENUMVAL, ENUMVAL_BY_STRUCT, &req, &ev, ENOENT);
        if (ret == 0)
            continue; /* value present (maybe under another name): keep theirs */
        if (ret != ENOENT)
            return ret;
        struct dict_enumval_data ed = {.enum_name = (char *)t->vals[i].name};
        ed.enum_value.i32 = t->vals[i].value;
        ret = fd_dict_new(dict, DICT_ENUMVAL, &ed, type, NULL);
        if (ret)
            return ret;
    }
    return 0;
}

static int ensure_avp(struct dictionary *dict, vendor_id_t vendor, const struct avp_def *a)
{
    struct dict_avp_request req = {.avp_vendor = vendor, .avp_code = a->code};
    struct dict_object *obj = NULL;
    int ret = fd_dict_search(dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, &obj, ENOENT);
    uint8_t mask = vendor ? VND_MASK : IETF_MASK;
    uint8_t val = vendor ? VND_VAL : IETF_VAL;
    if (ret == 0) {
        struct dict_avp_data have;
        ret = fd_dict_getval(obj, &have);
        if (ret)
            return ret;
        if (have.avp_basetype != a->base || strcmp(have.avp_name, a->name) != 0 ||
            have.avp_flag_mask != mask || (have.avp_flag_val & mask) != val) {
            fd_log(FD_LOG_ERROR,
                   "mip4vpn dict: AVP %u (vendor %u) already defined as '%s' with another "
                   "type or flags; cannot define '%s'",
                   a->code, vendor, have.avp_name, a->name);
            return EEXIST;
        }
        return 0;
    }
    if (ret != ENOENT)
        return ret;
    struct dict_object *type = NULL;
    if (a->type) {
        ret = fd_dict_search(dict, DICT_TYPE, TYPE_BY_NAME, a->type, &type, ENOENT);
        if (ret) {
            fd_log(FD_LOG_ERROR, "mip4vpn dict: type '%s' missing for AVP '%s'", a->type, a->name);
            return ret;
        }
    }
    struct dict_avp_data data = {.avp_code = a->code,
                                 .avp_vendor = vendor,
                                 .avp_name = (char *)a->name,
                                 .avp_flag_mask = mask,
                                 .avp_flag_val = val,
                                 .avp_basetype = a->base};
    return fd_dict_new(dict, DICT_AVP, &data, type, NULL);
}

static int ensure_rules(struct dictionary *dict, vendor_id_t vendor, struct dict_object *parent,
                        const char *parent_name, const struct rule_def *rules, size_t n)
{
    unsigned head_order = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rule_def *r = &rules[i];
        struct dict_avp_request areq = {.avp_vendor = r->space == V_OURS ? vendor : 0,
                                        .avp_name = (char *)r->avp};
        struct dict_object *avp = NULL;
        int ret = fd_dict_search(dict, DICT_AVP, AVP_BY_NAME_AND_VENDOR, &areq, &avp, ENOENT);
        if (ret) {
            fd_log(FD_LOG_ERROR, "mip4vpn dict: AVP '%s' (in %s) not in the dictionary", r->avp,
                   parent_name);
            return ret;
        }
        if (r->pos == RULE_FIXED_HEAD)
            head_order++;
        struct dict_rule_request rreq = {.rule_parent = parent, .rule_avp = avp};
        struct dict_object *rule = NULL;
        ret = fd_dict_search(dict, DICT_RULE, RULE_BY_AVP_AND_PARENT, &rreq, &rule, ENOENT);
        if (ret == 0)
            continue; /* already there (an earlier run, or another dictionary's rule) */
        if (ret != ENOENT)
            return ret;
        struct dict_rule_data data = {.rule_avp = avp,
                                      .rule_position = r->pos,
                                      .rule_order = r->pos == RULE_FIXED_HEAD ? head_order : 0,
                                      .rule_min = r->min,
                                      .rule_max = r->max};
        ret = fd_dict_new(dict, DICT_RULE, &data, parent, NULL);
        if (ret) {
            fd_log(FD_LOG_ERROR, "mip4vpn dict: cannot add rule for '%s' in %s", r->avp,
                   parent_name);
            return ret;
        }
    }
    return 0;
}

static int ensure_command(struct dictionary *dict, struct dict_object *app, const struct cmd_def *c,
                          struct dict_object **out)
{
    command_code_t code = c->code;
    int ret = fd_dict_search(dict, DICT_COMMAND, c->request ? CMD_BY_CODE_R : CMD_BY_CODE_A, &code,
                             out, ENOENT);
    if (ret != ENOENT)
        return ret;
    struct dict_cmd_data data = {.cmd_code = code, .cmd_name = (char *)c->name};
    if (c->request) {
        data.cmd_flag_mask = CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE | CMD_FLAG_ERROR;
        data.cmd_flag_val = CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE;
    } else {
        data.cmd_flag_mask = CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE;
        data.cmd_flag_val = CMD_FLAG_PROXIABLE;
    }
    return fd_dict_new(dict, DICT_COMMAND, &data, app, out);
}

/* ---- public API --------------------------------------------------------------------------- */

int mip4vpn_dict_register(struct dictionary *dict, uint32_t vendor_id)
{
    int ret;
    struct dict_object *vendor = NULL, *app = NULL;

    if (!dict)
        return EINVAL;
    if (vendor_id == 0)
        vendor_id = MIP4VPN_DEFAULT_VENDOR_ID;

    if ((ret = ensure_vendor(dict, vendor_id, &vendor)) != 0)
        return ret;
    if ((ret = ensure_application(dict, &app)) != 0)
        return ret;
    for (size_t i = 0; i < N_ELEM(enum_types); i++)
        if ((ret = ensure_enum_type(dict, &enum_types[i])) != 0)
            return ret;
    for (size_t i = 0; i < N_ELEM(ietf_avps); i++)
        if ((ret = ensure_avp(dict, 0, &ietf_avps[i])) != 0)
            return ret;
    for (size_t i = 0; i < N_ELEM(vendor_avps); i++)
        if ((ret = ensure_avp(dict, vendor_id, &vendor_avps[i])) != 0)
            return ret;

    for (size_t i = 0; i < N_ELEM(groups); i++) {
        const struct group_def *g = &groups[i];
        struct dict_avp_request req = {.avp_vendor = g->space == V_OURS ? vendor_id : 0,
                                       .avp_code = g->code};
        struct dict_object *avp = NULL;
        if ((ret = fd_dict_search(dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, &avp, ENOENT)))
            return ret;
        struct dict_avp_data ad;
        if ((ret = fd_dict_getval(avp, &ad)) != 0)
            return ret;
        if ((ret = ensure_rules(dict, vendor_id, avp, ad.avp_name, g->rules, g->nrules)) != 0)
            return ret;
    }
    for (size_t i = 0; i < N_ELEM(commands); i++) {
        struct dict_object *cmd = NULL;
        if ((ret = ensure_command(dict, app, &commands[i], &cmd)) != 0)
            return ret;
        if ((ret = ensure_rules(dict, vendor_id, cmd, commands[i].name, commands[i].rules,
                                commands[i].nrules)) != 0)
            return ret;
    }
    g_vendor_id = vendor_id;
    return 0;
}

int mip4vpn_dict_init(uint32_t vendor_id)
{
    if (!fd_g_config || !fd_g_config->cnf_dict)
        return EINVAL;
    return mip4vpn_dict_register(fd_g_config->cnf_dict, vendor_id);
}

int mip4vpn_dict_parse_arg(const char *arg, uint32_t *vendor_id)
{
    if (!vendor_id)
        return EINVAL;
    *vendor_id = MIP4VPN_DEFAULT_VENDOR_ID;
    if (!arg)
        return 0;
    while (*arg == ' ' || *arg == '\t')
        arg++;
    if (*arg == '\0')
        return 0;
    static const char key[] = "vendor_id";
    if (strncmp(arg, key, sizeof(key) - 1) == 0) {
        arg += sizeof(key) - 1;
        while (*arg == ' ' || *arg == '\t')
            arg++;
        if (*arg != '=')
            return EINVAL;
        arg++;
        while (*arg == ' ' || *arg == '\t')
            arg++;
    }
    if (*arg < '0' || *arg > '9')
        return EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 0);
    if (errno || end == arg)
        return EINVAL;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == ';')
        end++;
    if (*end != '\0' || v == 0 || v > UINT32_MAX)
        return EINVAL;
    *vendor_id = (uint32_t)v;
    return 0;
}

uint32_t mip4vpn_dict_vendor_id(void)
{
    return g_vendor_id;
}

static struct dictionary *pick(struct dictionary *dict)
{
    if (dict)
        return dict;
    return fd_g_config ? fd_g_config->cnf_dict : NULL;
}

int mip4vpn_dict_find_vendor_avp(struct dictionary *dict, uint32_t code, struct dict_object **obj)
{
    dict = pick(dict);
    if (!dict || !obj)
        return EINVAL;
    struct dict_avp_request req = {.avp_vendor = g_vendor_id, .avp_code = code};
    return fd_dict_search(dict, DICT_AVP, AVP_BY_CODE_AND_VENDOR, &req, obj, ENOENT);
}

int mip4vpn_dict_find_avp(struct dictionary *dict, uint32_t code, struct dict_object **obj)
{
    dict = pick(dict);
    if (!dict || !obj)
        return EINVAL;
    avp_code_t c = code;
    return fd_dict_search(dict, DICT_AVP, AVP_BY_CODE, &c, obj, ENOENT);
}
