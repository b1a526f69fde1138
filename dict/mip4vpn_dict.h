/* Diameter dictionary: RFC 4004 (Diameter Mobile IPv4 Application) + our VPN-profile AVPs.
 *
 * mip4vpn_dict_init() registers everything into the running freeDiameter dictionary
 * (fd_g_config->cnf_dict). It is idempotent and tolerates freeDiameter's own dict_mip6i,
 * dict_mip6a, dict_nas_mipv6, dict_nasreq and dict_eap being loaded before or after it: every
 * object is looked up first and created only when absent, with the same definition those
 * extensions use. The same code builds as dict_mip4vpn.fdx for a stock freeDiameterd.
 * Every code below is documented in dict/README.md.
 */
#ifndef MIP4VPN_DICT_H
#define MIP4VPN_DICT_H

#include <stdint.h>

struct dictionary;
struct dict_object;

/* Our vendor ID (RFC 5612 documentation enterprise number unless configured otherwise). */
#define MIP4VPN_DEFAULT_VENDOR_ID 32473u
#define MIP4VPN_VENDOR_NAME "MIP4VPN"

/* ---- RFC 4004 ---------------------------------------------------------------------------- */
#define MIP4_APPLICATION_ID 2u
#define MIP4_APPLICATION_NAME "Diameter Mobile IPv4 Application"
#define MIP4_CMD_AMR 260u /* AA-Mobile-Node-Request / -Answer */
#define MIP4_CMD_HAR 262u /* Home-Agent-MIP-Request / -Answer */
#define MIP4_CMD_AMR_NAME "AA-Mobile-Node-Request"
#define MIP4_CMD_AMA_NAME "AA-Mobile-Node-Answer"
#define MIP4_CMD_HAR_NAME "Home-Agent-MIP-Request"
#define MIP4_CMD_HAA_NAME "Home-Agent-MIP-Answer"

/* RFC 4004 AVP codes (vendor 0, flags: M set, V clear, P may). */
enum mip4_avp_code {
    MIP4_AVP_FA_TO_HA_SPI = 318,              /* Unsigned32 */
    MIP4_AVP_FA_TO_MN_SPI = 319,              /* Unsigned32 */
    MIP4_AVP_REG_REQUEST = 320,               /* OctetString */
    MIP4_AVP_REG_REPLY = 321,                 /* OctetString */
    MIP4_AVP_MN_AAA_AUTH = 322,               /* Grouped */
    MIP4_AVP_HA_TO_FA_SPI = 323,              /* Unsigned32 */
    MIP4_AVP_MN_TO_FA_MSA = 325,              /* Grouped */
    MIP4_AVP_FA_TO_MN_MSA = 326,              /* Grouped */
    MIP4_AVP_FA_TO_HA_MSA = 328,              /* Grouped */
    MIP4_AVP_HA_TO_FA_MSA = 329,              /* Grouped */
    MIP4_AVP_MN_TO_HA_MSA = 331,              /* Grouped */
    MIP4_AVP_HA_TO_MN_MSA = 332,              /* Grouped */
    MIP4_AVP_MOBILE_NODE_ADDRESS = 333,       /* Address */
    MIP4_AVP_HOME_AGENT_ADDRESS = 334,        /* Address */
    MIP4_AVP_NONCE = 335,                     /* OctetString */
    MIP4_AVP_CANDIDATE_HOME_AGENT_HOST = 336, /* DiameterIdentity */
    MIP4_AVP_FEATURE_VECTOR = 337,            /* Unsigned32 (bit flags) */
    MIP4_AVP_AUTH_INPUT_DATA_LENGTH = 338,    /* Unsigned32 */
    MIP4_AVP_AUTHENTICATOR_LENGTH = 339,      /* Unsigned32 */
    MIP4_AVP_AUTHENTICATOR_OFFSET = 340,      /* Unsigned32 */
    MIP4_AVP_MN_AAA_SPI = 341,                /* Unsigned32 */
    MIP4_AVP_FILTER_RULE = 342,               /* IPFilterRule */
    MIP4_AVP_SESSION_KEY = 343,               /* OctetString */
    MIP4_AVP_FA_CHALLENGE = 344,              /* OctetString */
    MIP4_AVP_ALGORITHM_TYPE = 345,            /* Enumerated */
    MIP4_AVP_REPLAY_MODE = 346,               /* Enumerated */
    MIP4_AVP_ORIGINATING_FOREIGN_AAA = 347,   /* Grouped */
    MIP4_AVP_HOME_AGENT_HOST = 348,           /* Grouped (Destination-Realm, Destination-Host) */
    MIP4_AVP_MSA_LIFETIME = 367,              /* Unsigned32 */
    MIP4_AVP_MN_HA_SPI = 491,                 /* Unsigned32, RFC 5778 */
};

/* MIP-Feature-Vector bits (RFC 4004 §7.5). */
#define MIP4_FV_MN_HOME_ADDRESS_REQUESTED 0x001u
#define MIP4_FV_HOME_ADDRESS_ALLOC_ONLY_IN_HOME_REALM 0x002u
#define MIP4_FV_HOME_AGENT_REQUESTED 0x004u
#define MIP4_FV_FOREIGN_HOME_AGENT_AVAILABLE 0x008u
#define MIP4_FV_MN_HA_KEY_REQUEST 0x010u
#define MIP4_FV_MN_FA_KEY_REQUEST 0x020u
#define MIP4_FV_FA_HA_KEY_REQUEST 0x040u
#define MIP4_FV_HOME_AGENT_IN_FOREIGN_NETWORK 0x080u
#define MIP4_FV_CO_LOCATED_MOBILE_NODE 0x100u

/* MIP-Algorithm-Type, MIP-Replay-Mode values. */
#define MIP4_ALGORITHM_HMAC_SHA1 2
#define MIP4_REPLAY_NONE 1
#define MIP4_REPLAY_TIMESTAMPS 2
#define MIP4_REPLAY_NONCES 3

/* RFC 4004 §6 Result-Code values. */
#define MIP4_RC_MIP_REPLY_FAILURE 4005u
#define MIP4_RC_HA_NOT_AVAILABLE 4006u
#define MIP4_RC_BAD_KEY 4007u
#define MIP4_RC_MIP_FILTER_NOT_SUPPORTED 4008u
#define MIP4_RC_NO_FOREIGN_HA_SERVICE 5024u
#define MIP4_RC_END_TO_END_MIP_KEY_ENCRYPTION 5025u

/* ---- Our vendor AVPs (vendor = the configured vendor ID; flags: V set, M clear, P may) ----
 * Codes start at 1001, not 1: Wireshark decodes every Address-typed AVP with a code below 256
 * as a RADIUS-style raw address (no address family), even in a vendor space, and would flag
 * our Diameter Address AVPs as malformed. */
enum mip4vpn_avp_code {
    MIP4VPN_AVP_VPN_PROFILE = 1001,                /* Grouped: one VPN profile */
    MIP4VPN_AVP_PROFILE_NUMBER = 1002,             /* Unsigned32 */
    MIP4VPN_AVP_SOURCE_PREFIX = 1003,              /* Address: selector source network */
    MIP4VPN_AVP_SOURCE_PREFIX_LENGTH = 1004,       /* Unsigned32: 0..32 (0..128 for IPv6) */
    MIP4VPN_AVP_DESTINATION_PREFIX = 1005,         /* Address: selector destination network */
    MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH = 1006,  /* Unsigned32 */
    MIP4VPN_AVP_DSCP_UP = 1007,                    /* Unsigned32: 0..63, MN -> CN direction */
    MIP4VPN_AVP_DSCP_DOWN = 1008,                  /* Unsigned32: 0..63, CN -> MN direction */
    MIP4VPN_AVP_SECURITY_TYPE = 1009,              /* Enumerated, MIP4VPN_SEC_* */
    MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY = 1010,      /* Address */
    MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY = 1011, /* Address */
    MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE = 1012,   /* Enumerated, MIP4VPN_GW_* */
    MIP4VPN_AVP_SPI_UP = 1013,                     /* Unsigned32 */
    MIP4VPN_AVP_SPI_DOWN = 1014,                   /* Unsigned32 */
    MIP4VPN_AVP_ENCRYPTION_KEY_UP = 1015,          /* OctetString (secret) */
    MIP4VPN_AVP_ENCRYPTION_KEY_DOWN = 1016,        /* OctetString (secret) */
    MIP4VPN_AVP_AUTH_KEY_UP = 1017,                /* OctetString (secret) */
    MIP4VPN_AVP_AUTH_KEY_DOWN = 1018,              /* OctetString (secret) */
    MIP4VPN_AVP_ENCRYPTION_ALGORITHM = 1019,       /* Enumerated, IKEv2 transform type 1 IDs */
    MIP4VPN_AVP_INTEGRITY_ALGORITHM = 1020,        /* Enumerated, IKEv2 transform type 3 IDs */
    MIP4VPN_AVP_PROFILE_LIFETIME = 1021,           /* Unsigned32, seconds */
    MIP4VPN_AVP_PROFILE_CACHE = 1022,              /* Unsigned32: "cache these profiles" marker */
    MIP4VPN_AVP_PREVIOUS_FA_ADDRESS = 1023,        /* Address */
    MIP4VPN_AVP_SERVICE_UPDATE_REQUEST = 1024,     /* Enumerated, MIP4VPN_SERVICE_UPDATE_* */
    MIP4VPN_AVP_VPN_SHARE = 1025, /* Enumerated, MIP4VPN_VPN_SHARE_*: VPN-Profile member */
};
#define MIP4VPN_AVP_FIRST_CODE 1001
#define MIP4VPN_AVP_LAST_CODE 1025

/* AVP names (as freeDiameter and the Wireshark dictionary know them). */
#define MIP4VPN_N_VPN_PROFILE "MIP4VPN-VPN-Profile"
#define MIP4VPN_N_PROFILE_NUMBER "MIP4VPN-Profile-Number"
#define MIP4VPN_N_SOURCE_PREFIX "MIP4VPN-Source-Prefix"
#define MIP4VPN_N_SOURCE_PREFIX_LENGTH "MIP4VPN-Source-Prefix-Length"
#define MIP4VPN_N_DESTINATION_PREFIX "MIP4VPN-Destination-Prefix"
#define MIP4VPN_N_DESTINATION_PREFIX_LENGTH "MIP4VPN-Destination-Prefix-Length"
#define MIP4VPN_N_DSCP_UP "MIP4VPN-DSCP-Up"
#define MIP4VPN_N_DSCP_DOWN "MIP4VPN-DSCP-Down"
#define MIP4VPN_N_SECURITY_TYPE "MIP4VPN-Security-Type"
#define MIP4VPN_N_TUNNEL_SOURCE_GATEWAY "MIP4VPN-Tunnel-Source-Gateway"
#define MIP4VPN_N_TUNNEL_DESTINATION_GATEWAY "MIP4VPN-Tunnel-Destination-Gateway"
#define MIP4VPN_N_DESTINATION_GATEWAY_TYPE "MIP4VPN-Destination-Gateway-Type"
#define MIP4VPN_N_SPI_UP "MIP4VPN-SPI-Up"
#define MIP4VPN_N_SPI_DOWN "MIP4VPN-SPI-Down"
#define MIP4VPN_N_ENCRYPTION_KEY_UP "MIP4VPN-Encryption-Key-Up"
#define MIP4VPN_N_ENCRYPTION_KEY_DOWN "MIP4VPN-Encryption-Key-Down"
#define MIP4VPN_N_AUTH_KEY_UP "MIP4VPN-Auth-Key-Up"
#define MIP4VPN_N_AUTH_KEY_DOWN "MIP4VPN-Auth-Key-Down"
#define MIP4VPN_N_ENCRYPTION_ALGORITHM "MIP4VPN-Encryption-Algorithm"
#define MIP4VPN_N_INTEGRITY_ALGORITHM "MIP4VPN-Integrity-Algorithm"
#define MIP4VPN_N_PROFILE_LIFETIME "MIP4VPN-Profile-Lifetime"
#define MIP4VPN_N_PROFILE_CACHE "MIP4VPN-Profile-Cache"
#define MIP4VPN_N_PREVIOUS_FA_ADDRESS "MIP4VPN-Previous-FA-Address"
#define MIP4VPN_N_SERVICE_UPDATE_REQUEST "MIP4VPN-Service-Update-Request"
#define MIP4VPN_N_VPN_SHARE "MIP4VPN-VPN-Share"

/* MIP4VPN-Security-Type */
#define MIP4VPN_SEC_ESP 1
#define MIP4VPN_SEC_AH 2
#define MIP4VPN_SEC_ENCAP_ONLY 3
/* MIP4VPN-Destination-Gateway-Type */
#define MIP4VPN_GW_STATIC 1
#define MIP4VPN_GW_DYNAMIC 2
/* MIP4VPN-Encryption-Algorithm (IANA IKEv2 Transform Type 1) */
#define MIP4VPN_ENCR_NULL 11
#define MIP4VPN_ENCR_AES_CBC 12
#define MIP4VPN_ENCR_AES_CTR 13
#define MIP4VPN_ENCR_AES_GCM_16 20
#define MIP4VPN_ENCR_CHACHA20_POLY1305 28
/* MIP4VPN-Integrity-Algorithm (IANA IKEv2 Transform Type 3) */
#define MIP4VPN_AUTH_NONE 0
#define MIP4VPN_AUTH_HMAC_MD5_96 1
#define MIP4VPN_AUTH_HMAC_SHA1_96 2
#define MIP4VPN_AUTH_HMAC_SHA2_256_128 12
#define MIP4VPN_AUTH_HMAC_SHA2_384_192 13
#define MIP4VPN_AUTH_HMAC_SHA2_512_256 14
/* MIP4VPN-Service-Update-Request */
#define MIP4VPN_SERVICE_UPDATE_RELOAD_PROFILES 1
/* MIP4VPN-VPN-Share (the profile's vpnshare, seed Fig. 5). Optional in VPN-Profile: when absent
 * (messages from before the AVP existed) the receiver takes 1 PER-USER, unless the profile
 * carries no keys and no SPIs, then 0 SHARED (dict/README.md). */
#define MIP4VPN_VPN_SHARE_SHARED 0
#define MIP4VPN_VPN_SHARE_PER_USER 1

/* Register RFC 4004 + our vendor AVPs (under vendor_id; 0 means the default) into the global
 * freeDiameter dictionary (libfdcore must be initialised). Idempotent. Returns 0 or an errno
 * value (EEXIST when an existing object conflicts with ours, logged by freeDiameter). */
int mip4vpn_dict_init(uint32_t vendor_id);

/* Same, into any dictionary (e.g. one made with fd_dict_init + fd_dict_base_protocol). */
int mip4vpn_dict_register(struct dictionary *dict, uint32_t vendor_id);

/* Parse the extension argument: "" / NULL (default), "vendor_id=N" or "N" (decimal or 0x..).
 * Returns 0 or EINVAL. */
int mip4vpn_dict_parse_arg(const char *arg, uint32_t *vendor_id);

/* Vendor ID of the last successful registration (MIP4VPN_DEFAULT_VENDOR_ID before any). */
uint32_t mip4vpn_dict_vendor_id(void);

/* Look up an AVP of ours (code from enum mip4vpn_avp_code, under the registered vendor) or of
 * RFC 4004 (vendor 0) in dict (NULL = the global dictionary). Return 0 or ENOENT. */
int mip4vpn_dict_find_vendor_avp(struct dictionary *dict, uint32_t code, struct dict_object **obj);
int mip4vpn_dict_find_avp(struct dictionary *dict, uint32_t code, struct dict_object **obj);

#endif
