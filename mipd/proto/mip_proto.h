/*
 * Mobile IPv4 wire codec: RFC 5944 registration, RFC 3012/4721 challenge and
 * MN-AAA authentication, RFC 2794 NAI, RFC 3024 reverse tunnelling, RFC 3115
 * vendor-specific extensions, the RFC 4064 experimental message carrying the
 * route-optimisation messages (DESIGN §6), and ICMP agent advertisement and
 * solicitation (RFC 5944 §2.1).
 *
 * Decoding is strict: every length is checked against the buffer, unknown
 * extensions 0-127 reject the whole message (RFC 5944 §1.9), unknown 128-255 are
 * skipped.  Decoded structures point into the caller's buffer (no allocation),
 * so the buffer must outlive them.
 */
#ifndef MIP_PROTO_H
#define MIP_PROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIP_UDP_PORT 434
#define MIP_DEFAULT_VENDOR_ID 32473u /* RFC 5612 documentation enterprise number */
#define MIP_MAX_MSG 2048

/* Message types (UDP 434). */
enum mip_msg_type {
    MIP_MSG_REG_REQUEST = 1,
    MIP_MSG_REG_REPLY = 3,
    MIP_MSG_EXPERIMENTAL = 255, /* RFC 4064; subtypes below (DESIGN §6) */
};

/* Subtypes of the experimental message (draft-ietf-mobileip-optim-11 numbering). */
enum mip_exp_subtype {
    MIP_EXP_BINDING_WARNING = 16,
    MIP_EXP_BINDING_REQUEST = 17,
    MIP_EXP_BINDING_UPDATE = 18,
    MIP_EXP_BINDING_ACK = 19,
};

/* Registration Request flags (RFC 5944 §3.3; T from RFC 3024). */
#define MIP_RRQ_FLAG_S 0x80 /* simultaneous bindings */
#define MIP_RRQ_FLAG_B 0x40 /* broadcast datagrams */
#define MIP_RRQ_FLAG_D 0x20 /* decapsulation by MN (co-located CoA) */
#define MIP_RRQ_FLAG_M 0x10 /* minimal encapsulation */
#define MIP_RRQ_FLAG_G 0x08 /* GRE */
#define MIP_RRQ_FLAG_R 0x04 /* reserved, must be 0 */
#define MIP_RRQ_FLAG_T 0x02 /* reverse tunnelling requested */
#define MIP_RRQ_FLAG_X 0x01 /* reserved, must be 0 */

/* Extension types carried in registration / experimental messages. */
enum mip_ext_type {
    MIP_EXT_MN_HA_AUTH = 32,
    MIP_EXT_MN_FA_AUTH = 33,
    MIP_EXT_FA_HA_AUTH = 34,
    MIP_EXT_GEN_AUTH = 36,             /* RFC 3012 generalized authentication, long form */
    MIP_EXT_CVSE = 38,                 /* RFC 3115 critical vendor/org specific, long form */
    MIP_EXT_MN_HA_KEYGEN_REQUEST = 42, /* RFC 3957, long form (see below) */
    MIP_EXT_MN_HA_KEYGEN_REPLY = 43,   /* RFC 3957, long form (see below) */
    MIP_EXT_ENCAP_DELIVERY = 130,      /* RFC 3024 encapsulating delivery style */
    MIP_EXT_NAI = 131,                 /* RFC 2794 */
    MIP_EXT_MN_FA_CHALLENGE = 132,     /* RFC 3012 */
    MIP_EXT_NVSE = 134,                /* RFC 3115 normal vendor/org specific */
};

#define MIP_GEN_AUTH_SUBTYPE_MN_AAA 1 /* RFC 3012 §5 */

/*
 * RFC 3957 (AAA Registration Keys for Mobile IPv4): the AAA server hands the
 * home agent a key generation nonce; the HA passes it to the MN in the
 * "Generalized MN-HA Key Generation Nonce Reply" extension, and both derive
 *     MN-HA key = HMAC-SHA1(AAA key, Key Generation Nonce || MN identifier)
 * with the NAI as identifier (mip_mn_ha_key_derive).  The reply's MN-HA
 * authenticator is computed with the new key, so the extension precedes it.
 *
 * The RFC text itself could not be read from where this was written: IANA's
 * registry confirms extension values 40-43 are the KeyGen Request/Reply
 * extensions with subtypes (AAA = 1, as RFC 4004's FA section says), and the
 * type numbers and field layout below follow our reading of RFC 3957:
 *   40 MN-FA request, 41 MN-FA reply, 42 MN-HA request, 43 MN-HA reply
 *   (we implement 42 as "present" and 43 fully; 40/41 stay unknown).
 * Reply (long form, like RFC 3012's type 36):
 *   Type=43 | Subtype=1 (AAA) | Length (2, octets after Length) |
 *   Lifetime (4, s) | AAA SPI (4: the MN-AAA SPI the MN used) |
 *   HA SPI (4: SPI of the new MN-HA SA) | Algorithm Identifier (2) |
 *   Replay Method (2) | Key Generation Nonce (Length - 16 octets, >= 1)
 * Algorithm Identifier / Replay Method carry the RFC 4004 values
 * the AAA put in MIP-Algorithm-Type / MIP-Replay-Mode (2 = HMAC-SHA-1,
 * 2 = timestamps).  A derived MN-HA SA therefore authenticates with
 * HMAC-SHA-1 (20-octet authenticator, MIP_AUTH_HMAC_SHA1); configured SAs use
 * RFC 5944 §3.5.1's default HMAC-MD5.
 */
#define MIP_KEYGEN_SUBTYPE_AAA 1
#define MIP_KEYGEN_REPLY_FIXED 16      /* Lifetime .. Replay Method */
#define MIP_KEYGEN_ALG_HMAC_SHA1 2     /* RFC 4004 MIP-Algorithm-Type */
#define MIP_KEYGEN_REPLAY_TIMESTAMPS 2 /* RFC 4004 MIP-Replay-Mode */
#define MIP_MN_HA_KEY_LEN 20           /* HMAC-SHA1 output */

/* Algorithm of an RFC 5944 §3.5 authentication extension (32/33/34). */
enum mip_auth_alg {
    MIP_AUTH_HMAC_MD5 = 0,  /* RFC 5944 §3.5.1 default, 16-octet authenticator */
    MIP_AUTH_HMAC_SHA1 = 1, /* RFC 4004 MIP-Algorithm-Type 2, 20-octet authenticator */
};

/* Agent advertisement extension types (ICMP router advertisement trailer). */
enum mip_adv_ext_type {
    MIP_ADV_EXT_PAD = 0,
    MIP_ADV_EXT_MOBILITY = 16,
    MIP_ADV_EXT_PREFIX_LEN = 19,
    MIP_ADV_EXT_CHALLENGE = 24, /* RFC 3012 §3 */
};

/* Mobility agent advertisement flags (RFC 5944 §2.1.1; T from RFC 3024). */
#define MIP_ADV_FLAG_R 0x8000 /* registration required */
#define MIP_ADV_FLAG_B 0x4000 /* busy */
#define MIP_ADV_FLAG_H 0x2000 /* home agent */
#define MIP_ADV_FLAG_F 0x1000 /* foreign agent */
#define MIP_ADV_FLAG_M 0x0800
#define MIP_ADV_FLAG_G 0x0400
#define MIP_ADV_FLAG_r 0x0200
#define MIP_ADV_FLAG_T 0x0100 /* reverse tunnelling supported */
#define MIP_ADV_FLAG_U 0x0080 /* UDP tunnelling (RFC 3519) */
#define MIP_ADV_FLAG_X 0x0040 /* registration revocation (RFC 3543) */
#define MIP_ADV_FLAG_I 0x0020 /* revocation I bit (RFC 3543) */

/* Registration Reply codes (RFC 5944 §3.4, RFC 3012 §10, RFC 3024 §6). */
enum mip_reply_code {
    MIP_CODE_ACCEPTED = 0,
    MIP_CODE_ACCEPTED_NO_SIMUL = 1,
    /* denied by the foreign agent */
    MIP_CODE_FA_UNSPECIFIED = 64,
    MIP_CODE_FA_ADMIN_PROHIBITED = 65,
    MIP_CODE_FA_INSUFFICIENT_RESOURCES = 66,
    MIP_CODE_FA_MN_AUTH_FAILED = 67,
    MIP_CODE_FA_HA_AUTH_FAILED = 68,
    MIP_CODE_FA_LIFETIME_TOO_LONG = 69,
    MIP_CODE_FA_POORLY_FORMED_REQUEST = 70,
    MIP_CODE_FA_POORLY_FORMED_REPLY = 71,
    MIP_CODE_FA_ENCAP_UNAVAILABLE = 72,
    MIP_CODE_FA_REVTUN_UNAVAILABLE = 74,
    MIP_CODE_FA_REVTUN_MANDATORY = 75,
    MIP_CODE_FA_INVALID_COA = 77,
    MIP_CODE_FA_REG_TIMEOUT = 78,
    MIP_CODE_FA_DELIVERY_STYLE_UNSUPPORTED = 79,
    MIP_CODE_FA_HOME_NET_UNREACHABLE = 80,
    MIP_CODE_FA_HA_HOST_UNREACHABLE = 81,
    MIP_CODE_FA_HA_PORT_UNREACHABLE = 82,
    MIP_CODE_FA_HA_UNREACHABLE = 88,
    MIP_CODE_FA_UNKNOWN_CHALLENGE = 104,
    MIP_CODE_FA_MISSING_CHALLENGE = 105,
    MIP_CODE_FA_STALE_CHALLENGE = 106,
    /* denied by the home agent */
    MIP_CODE_HA_UNSPECIFIED = 128,
    MIP_CODE_HA_ADMIN_PROHIBITED = 129,
    MIP_CODE_HA_INSUFFICIENT_RESOURCES = 130,
    MIP_CODE_HA_MN_AUTH_FAILED = 131,
    MIP_CODE_HA_FA_AUTH_FAILED = 132,
    MIP_CODE_HA_ID_MISMATCH = 133,
    MIP_CODE_HA_POORLY_FORMED_REQUEST = 134,
    MIP_CODE_HA_TOO_MANY_BINDINGS = 135,
    MIP_CODE_HA_UNKNOWN_HA = 136,
    MIP_CODE_HA_REVTUN_UNAVAILABLE = 137,
    MIP_CODE_HA_REVTUN_MANDATORY = 138,
    MIP_CODE_HA_ENCAP_UNAVAILABLE = 139,
};

/*
 * Binding Acknowledge status (DESIGN §6; decided here, the draft's BA status
 * values mirror the registration codes): 0 accepted, and the RFC 5944 §3.4 HA
 * denial codes whose meaning fits a refused BU, so the logs read the same:
 *   128 unspecified                 129 administratively prohibited: the VPN
 *   130 insufficient resources          information names another PCN or a
 *   131 sending node failed             correspondent we do not serve
 *       authentication (RO-auth CVSE missing, wrong SPI or bad HMAC)
 *   133 identification mismatch (stale timestamp or replay; the BA's
 *       identification carries our clock in its high 32 bits, RFC 5944 §5.7)
 *   134 poorly formed (undecodable BU, missing/duplicate or bad VPN-INFO CVSE)
 *   136 unknown peer (no pairwise key for the sender: the BA is sent
 *       without RO-auth, since there is no key to make one)
 */
enum mip_ba_status {
    MIP_BA_ACCEPTED = 0,
    MIP_BA_UNSPECIFIED = 128,
    MIP_BA_PROHIBITED = 129,
    MIP_BA_INSUFFICIENT_RESOURCES = 130,
    MIP_BA_AUTH_FAILED = 131,
    MIP_BA_ID_MISMATCH = 133,
    MIP_BA_POORLY_FORMED = 134,
    MIP_BA_UNKNOWN_PEER = 136,
};
const char *mip_ba_status_str(uint8_t status);

/* What a decoder found wrong; MIP_OK when nothing. */
enum mip_err {
    MIP_OK = 0,
    MIP_ERR_TRUNCATED,            /* buffer shorter than the fixed part or an extension */
    MIP_ERR_BAD_TYPE,             /* message type not the one expected */
    MIP_ERR_BAD_LENGTH,           /* a length field is inconsistent */
    MIP_ERR_UNKNOWN_CRITICAL_EXT, /* unknown extension type 0-127 (RFC 5944 §1.9) */
    MIP_ERR_DUPLICATE_EXT,        /* an extension that may appear once appears twice */
    MIP_ERR_EXT_ORDER,            /* e.g. data after the MN-HA authenticator that it should cover */
    MIP_ERR_RESERVED_BITS,        /* reserved flag bits set */
    MIP_ERR_BAD_VALUE,            /* a field value the RFC forbids */
    MIP_ERR_NOSPACE,              /* encoder: output buffer too small */
    MIP_ERR_BAD_CHECKSUM,         /* ICMP checksum wrong (agent advertisement/solicitation) */
};
const char *mip_err_str(enum mip_err e);

/* A byte range inside the decoded buffer. */
struct mip_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* One authentication extension (32/33/34 short form or 36 long form). */
struct mip_auth_ext {
    bool present;
    uint8_t subtype; /* only for type 36 */
    uint32_t spi;
    struct mip_bytes authenticator;
    size_t covered_len; /* octets of the message the authenticator protects:
                           from the start through this extension's SPI */
    size_t offset;      /* where this extension starts in the message */
};

/* A vendor-specific extension (RFC 3115). */
struct mip_vse {
    uint32_t vendor_id;
    uint16_t vendor_type;
    struct mip_bytes data;
};

#define MIP_MAX_VSE 8

/* RFC 3957 MN-HA Key Generation Nonce Reply (type 43), decoded. */
struct mip_keygen_reply {
    bool present;
    uint8_t subtype;
    uint32_t lifetime;
    uint32_t aaa_spi;
    uint32_t ha_spi;
    uint16_t alg;
    uint16_t replay;
    struct mip_bytes nonce;
    size_t offset; /* where the extension starts */
};

/* Extensions a registration or experimental message may carry. */
struct mip_exts {
    struct mip_auth_ext mn_ha;
    struct mip_auth_ext mn_fa;
    struct mip_auth_ext fa_ha;
    struct mip_auth_ext mn_aaa; /* type 36 subtype 1 */
    bool has_nai;
    struct mip_bytes nai;
    bool has_challenge;
    struct mip_bytes challenge;
    bool encap_delivery; /* type 130 present */
    unsigned n_cvse;
    struct mip_vse cvse[MIP_MAX_VSE];
    unsigned n_nvse;
    struct mip_vse nvse[MIP_MAX_VSE];
    bool has_keygen_request; /* RFC 3957 MN-HA key request (42) */
    uint8_t keygen_request_subtype;
    struct mip_keygen_reply keygen; /* RFC 3957 MN-HA key reply (43) */
    unsigned n_skipped;             /* unknown skippable (128-255) extensions */
    /* Our vendor's registration extensions (DESIGN §6, aaad/FLOWS.md "Moves"):
     * filled by mip_get_vendor_exts only, since the message decoders do not
     * know the (configurable) vendor ID; zero after the message decoders. */
    bool has_prev_fa;        /* previous-FA notification CVSE */
    struct in_addr prev_fa;  /* the FA the MN was registered with (its care-of address) */
    bool has_service_update; /* service-update NVSE */
    uint16_t service_update; /* its request code: MIP_SERVICE_UPDATE_RELOAD_PROFILES */
};

struct mip_reg_request {
    uint8_t flags; /* MIP_RRQ_FLAG_* */
    uint16_t lifetime;
    struct in_addr home_addr;
    struct in_addr home_agent;
    struct in_addr care_of_addr;
    uint64_t identification;
    struct mip_exts ext;
};

struct mip_reg_reply {
    uint8_t code;
    uint16_t lifetime;
    struct in_addr home_addr;
    struct in_addr home_agent;
    uint64_t identification;
    struct mip_exts ext;
};

/* Route-optimisation messages inside the experimental message (DESIGN §6).
 *
 * Wire layout (all multi-octet fields in network order):
 *   Type=255 (1) | Length (1) | Subtype (1) | fixed fields | extensions...
 * Length counts the octets from Subtype to the end of the fixed fields and
 * must equal the subtype's fixed size (else MIP_ERR_BAD_LENGTH).  The fixed
 * fields follow draft-ietf-mobileip-optim-11 with the draft's Type octet
 * replaced by Subtype:
 *   BU (18): Flags (1: A I M G, low 4 bits reserved) | Reserved (1) |
 *            Lifetime (2) | Home Address (4) | Care-of Address (4) |
 *            Identification (8)                                Length = 21
 *   BA (19): Reserved (1) | Status (1) | Lifetime (2) | Home Address (4) |
 *            Identification (8)                                Length = 17
 *   BR (17): Reserved (1) | Home Address (4) | Identification (8)  Length = 14
 *   BW (16): Reserved (1) | Home Address (4) | Target Node (4)     Length = 10
 * Reserved octets are sent as zero and ignored on reception; the reserved BU
 * flag bits set give MIP_ERR_RESERVED_BITS.  Extensions use the same rules as
 * registration messages. */
#define MIP_EXP_LEN_BU 21
#define MIP_EXP_LEN_BA 17
#define MIP_EXP_LEN_BR 14
#define MIP_EXP_LEN_BW 10

#define MIP_BU_FLAG_A 0x80 /* acknowledge requested */
#define MIP_BU_FLAG_I 0x40 /* identification present/used */
#define MIP_BU_FLAG_M 0x20 /* minimal encapsulation */
#define MIP_BU_FLAG_G 0x10 /* GRE */

struct mip_binding_update {
    uint8_t flags;
    uint16_t lifetime;
    struct in_addr home_addr;
    struct in_addr care_of_addr;
    uint64_t identification;
};
struct mip_binding_ack {
    uint8_t status;
    uint16_t lifetime;
    struct in_addr home_addr;
    uint64_t identification;
};
struct mip_binding_request {
    struct in_addr home_addr;
    uint64_t identification;
};
struct mip_binding_warning {
    struct in_addr home_addr;
    struct in_addr target_node;
};
struct mip_experimental {
    uint8_t subtype; /* enum mip_exp_subtype */
    union {
        struct mip_binding_update bu;
        struct mip_binding_ack ba;
        struct mip_binding_request br;
        struct mip_binding_warning bw;
    } u;
    struct mip_exts ext;
};

/* ---------------------------------------------------------------------------
 * Encoding.  A writer appends into a caller buffer; every append checks space
 * and latches MIP_ERR_NOSPACE.  Authenticator extensions are appended last and
 * computed over everything written before them.
 */
struct mip_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    enum mip_err err;
};
void mip_writer_init(struct mip_writer *w, uint8_t *buf, size_t cap);
/* Appends raw octets (for tools and tests that build unusual messages). */
void mip_put_bytes(struct mip_writer *w, const void *p, size_t len);

void mip_put_reg_request(struct mip_writer *w, const struct mip_reg_request *rq);
void mip_put_reg_reply(struct mip_writer *w, const struct mip_reg_reply *rp);
/* Fixed part of an experimental message (ext fields ignored). */
void mip_put_experimental(struct mip_writer *w, const struct mip_experimental *m);

void mip_put_nai(struct mip_writer *w, const void *nai, size_t len);
void mip_put_challenge(struct mip_writer *w, const void *chal, size_t len);
void mip_put_encap_delivery(struct mip_writer *w);
void mip_put_cvse(struct mip_writer *w, uint32_t vendor_id, uint16_t vtype, const void *data,
                  size_t len);
void mip_put_nvse(struct mip_writer *w, uint32_t vendor_id, uint16_t vtype, const void *data,
                  size_t len);
/* Appends an RFC 5944 §3.5 authentication extension (type 32/33/34) whose
 * authenticator is HMAC-MD5(key, everything before it + type, length, SPI). */
void mip_put_auth_hmac_md5(struct mip_writer *w, uint8_t type, uint32_t spi, const void *key,
                           size_t keylen);
/* Same with the algorithm of the security association (HMAC-SHA1 for SAs
 * derived with RFC 3957). */
void mip_put_auth(struct mip_writer *w, uint8_t type, uint32_t spi, enum mip_auth_alg alg,
                  const void *key, size_t keylen);
/* Appends the RFC 3957 MN-HA Key Generation Nonce Reply extension (type 43,
 * AAA subtype; layout above).  nonce_len 1..255. */
void mip_put_mn_ha_keygen_reply(struct mip_writer *w, uint32_t lifetime, uint32_t aaa_spi,
                                uint32_t ha_spi, uint16_t alg, uint16_t replay, const void *nonce,
                                size_t nonce_len);
/* RFC 3957 key derivation: out = HMAC-SHA1(aaa_key, nonce || nai). */
bool mip_mn_ha_key_derive(const void *aaa_key, size_t aaa_keylen, const void *nonce,
                          size_t nonce_len, const void *nai, size_t nai_len,
                          uint8_t out[MIP_MN_HA_KEY_LEN]);
/* Appends an RFC 3012 §5 MN-AAA generalized authentication extension (36/1);
 * the authenticator uses the algorithm RFC 3012 §8 defines for CHAP_SPI
 * semantics (MD5 over challenge, key and the hashed preceding data):
 *   MD5(challenge[0] || key || MD5(message so far || Type, Subtype, Length, SPI)
 *       || the last min(237, challen) octets of the challenge)
 * (a challenge shorter than 238 octets thus has its first octet hashed twice,
 * as RFC 3012 §8 notes).  Length is 20 (SPI + 16-octet authenticator). */
void mip_put_mn_aaa_auth(struct mip_writer *w, uint32_t spi, const void *key, size_t keylen,
                         const void *challenge, size_t challen);
/* Appends a CVSE of our vendor carrying SPI + HMAC-SHA-256 over everything
 * before it (authentication of BU/BA/BR/BW, DESIGN §6). */
#define MIP_VSE_TYPE_RO_AUTH 1
void mip_put_ro_auth(struct mip_writer *w, uint32_t vendor_id, uint32_t spi, const void *key,
                     size_t keylen);

/*
 * Our vendor's extensions in a Registration Request (DESIGN §6; the moves and
 * the service update of aaad/FLOWS.md).  Vendor types of our vendor ID:
 *   CVSE (38, RFC 3115 §3.1): 1 RO-auth (above), 2 VPN-INFO (vpncache/vpn_cvse.h),
 *        3 PREV-FA: Data = the previous FA's address (4 octets, network order),
 *          i.e. the care-of address of the FA the MN was registered with, the
 *          address the AAA caches and the HA's binding know that FA by;
 *   NVSE (134, RFC 3115 §3.2): 3 SERVICE-UPDATE: Data = Request code (2 octets),
 *          1 = RELOAD-PROFILES (the same value as the Diameter
 *          MIP4VPN-Service-Update-Request, dict/mip4vpn_dict.h).
 * Wire: CVSE  38 | 0 | Length = 10 (2) | Vendor-ID (4) | 3 (2) | previous FA (4)
 *       NVSE 134 | Length = 10 | 0 (2) | Vendor-ID (4) | 3 (2) | request code (2)
 * The MN puts both before its MN-HA authenticator (and so before its MN-AAA
 * one): each is covered by every authenticator of the request, so the HA
 * that checks the MN-HA authenticator also vouches for the previous-FA claim an
 * AAAF acted on (FLOWS.md "Authentication").
 */
#define MIP_VSE_TYPE_VPN_INFO 2 /* = VPN_VSE_TYPE_VPN_INFO; vpn_cvse_get decodes it */
#define MIP_VSE_TYPE_PREV_FA 3
#define MIP_NVSE_TYPE_SERVICE_UPDATE 3
#define MIP_PREV_FA_DATA_LEN 4
#define MIP_SERVICE_UPDATE_DATA_LEN 2
#define MIP_SERVICE_UPDATE_RELOAD_PROFILES 1
/* Append them.  The address must be a unicast one (not 0.0.0.0, 127/8,
 * multicast, 240/4 or broadcast) and the code RELOAD-PROFILES, else the writer
 * latches MIP_ERR_BAD_VALUE. */
void mip_put_prev_fa(struct mip_writer *w, uint32_t vendor_id, struct in_addr prev_fa);
void mip_put_service_update(struct mip_writer *w, uint32_t vendor_id, uint16_t code);

/* ---------------------------------------------------------------------------
 * Decoding.  Return MIP_OK or what was wrong; *off_err (if not NULL) receives
 * the offset at which decoding failed: 0 for the message type, 1 for flags
 * or the experimental Length, 2 for an unknown experimental subtype, the
 * buffer length when the fixed part is cut short, and otherwise the offset of
 * the Type octet of the offending extension.
 *
 * Error conventions: an extension (or fixed part) running past the end of the
 * buffer is MIP_ERR_TRUNCATED; a Length too small for the extension's own
 * fields (auth < 4, NVSE < 8, CVSE < 6, challenge < 4, NAI 0, encapsulating
 * delivery != 0), more than MIP_MAX_VSE CVSEs or NVSEs, or a wrong
 * experimental Length is MIP_ERR_BAD_LENGTH; type 36 with a subtype other than
 * MN-AAA is MIP_ERR_UNKNOWN_CRITICAL_EXT.  Ordering (RFC 5944 §3.6.1.3,
 * RFC 3012 §3): MN-HA after MN-FA/MN-AAA, a non-authentication extension
 * after MN-FA/MN-AAA, or anything after FA-HA is MIP_ERR_EXT_ORDER; any
 * authentication extension, NAI, challenge or encapsulating delivery twice is
 * MIP_ERR_DUPLICATE_EXT.  RFC 3957 type 42/43: subtype other than AAA is
 * MIP_ERR_UNKNOWN_CRITICAL_EXT, a 43 shorter than its fixed fields plus one
 * nonce octet MIP_ERR_BAD_LENGTH, either twice MIP_ERR_DUPLICATE_EXT.
 * SPIs below 256 are accepted and left to the caller.
 * Auth lengths other than the algorithm's (16 MD5, 20 SHA1) decode but never
 * verify. */
enum mip_err mip_get_reg_request(const uint8_t *buf, size_t len, struct mip_reg_request *rq,
                                 size_t *off_err);
enum mip_err mip_get_reg_reply(const uint8_t *buf, size_t len, struct mip_reg_reply *rp,
                               size_t *off_err);
enum mip_err mip_get_experimental(const uint8_t *buf, size_t len, struct mip_experimental *m,
                                  size_t *off_err);

/* Second pass over what a message decoder found in msg[0..len): decodes our
 * vendor's registration extensions (above) into x->has_prev_fa / prev_fa and
 * x->has_service_update / service_update.  Strict; the first offending
 * extension in message order decides, *off_err = the offset of its Type octet:
 *   MIP_ERR_BAD_LENGTH           PREV-FA data not 4 octets, SERVICE-UPDATE not 2
 *   MIP_ERR_BAD_VALUE            previous FA not a unicast address (as the
 *                                encoder), request code other than RELOAD-PROFILES
 *   MIP_ERR_DUPLICATE_EXT        either one twice
 *   MIP_ERR_EXT_ORDER            either one after the MN-HA authenticator
 *   MIP_ERR_UNKNOWN_CRITICAL_EXT a CVSE of our vendor with a type other than
 *                                1, 2, 3 (RFC 3115 §3.1: an unknown CVSE makes
 *                                the message invalid)
 * NVSEs of our vendor with other types are skippable (RFC 3115 §3.2) and left
 * alone, as are other vendors' extensions and our RO-auth / VPN-INFO CVSEs (their
 * own functions judge them).  x must come from decoding msg (its data pointers
 * lie inside msg); otherwise MIP_ERR_BAD_VALUE at offset 0.  On error the four
 * fields are zero. */
enum mip_err mip_get_vendor_exts(const uint8_t *msg, size_t len, uint32_t vendor_id,
                                 struct mip_exts *x, size_t *off_err);

/* Verification of the authenticators found by the decoder; msg is the whole
 * message the extension was decoded from. Constant-time compare. */
bool mip_verify_auth_hmac_md5(const uint8_t *msg, const struct mip_auth_ext *a, const void *key,
                              size_t keylen);
bool mip_verify_auth(const uint8_t *msg, const struct mip_auth_ext *a, enum mip_auth_alg alg,
                     const void *key, size_t keylen);
bool mip_verify_mn_aaa_auth(const uint8_t *msg, const struct mip_auth_ext *a, const void *key,
                            size_t keylen, const void *challenge, size_t challen);
/* Finds our RO-auth CVSE in m->ext and verifies it; *spi receives its SPI. */
bool mip_verify_ro_auth(const uint8_t *msg, size_t msglen, const struct mip_exts *ext,
                        uint32_t vendor_id, const void *key, size_t keylen, uint32_t *spi);

/* ---------------------------------------------------------------------------
 * ICMP agent advertisement (router advertisement, type 9, code 0 or 16) and
 * agent solicitation (router solicitation, type 10). Buffers start at the ICMP
 * header; the checksum is computed by the encoder and checked by the decoder. */
#define MIP_ADV_MAX_COA 4
#define MIP_ADV_MAX_ROUTERS 4
#define MIP_CHALLENGE_MAX 32

struct mip_agent_adv {
    uint8_t code;          /* 0, or 16 when the agent does not route common traffic */
    uint16_t adv_lifetime; /* router advertisement lifetime, seconds */
    unsigned n_routers;
    struct in_addr routers[MIP_ADV_MAX_ROUTERS];
    int32_t pref[MIP_ADV_MAX_ROUTERS];
    uint16_t seq; /* mobility extension */
    uint16_t reg_lifetime;
    uint16_t flags; /* MIP_ADV_FLAG_* */
    unsigned n_coa;
    struct in_addr coa[MIP_ADV_MAX_COA];
    bool has_prefix_len;
    unsigned n_prefix_len;
    uint8_t prefix_len[MIP_ADV_MAX_ROUTERS];
    bool has_challenge;
    uint8_t challenge_len;
    uint8_t challenge[MIP_CHALLENGE_MAX];
};

/* Returns the length written, 0 if cap is too small or a count exceeds its
 * array. Extensions: mobility (16), then prefix lengths (19), then challenge (24). */
size_t mip_put_agent_adv(uint8_t *buf, size_t cap, const struct mip_agent_adv *a);
/* Structure is checked before the checksum: TRUNCATED, BAD_LENGTH (address
 * entry size != 2, more routers/CoAs/prefix lengths than the arrays hold, bad
 * extension Length), UNKNOWN_CRITICAL_EXT, DUPLICATE_EXT, EXT_ORDER (prefix
 * lengths before the mobility extension), BAD_TYPE (not ICMP type 9, or no
 * mobility extension), BAD_VALUE (code not 0/16), then BAD_CHECKSUM.  Pad
 * octets (type 0) and unknown types 128-255 are skipped; reserved flag bits
 * are kept as received (RFC 5944 §2.1.1: ignored on reception). */
enum mip_err mip_get_agent_adv(const uint8_t *buf, size_t len, struct mip_agent_adv *a);
size_t mip_put_agent_solicit(uint8_t *buf, size_t cap);
enum mip_err mip_get_agent_solicit(const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Identification by timestamp (RFC 5944 §5.7): the high 32 bits are NTP
 * seconds, the low 32 bits random (request) or copied (reply).  A request is
 * fresh if its timestamp is within window seconds of now and larger than the
 * last accepted one. */
#define MIP_NTP_UNIX_OFFSET 2208988800ull
uint64_t mip_ident_now(void); /* NTP timestamp of now with random low bits */
/* NTP timestamp of now: seconds since 1900 in the high 32 bits, fraction in
 * the low 32 bits.  This is the now_ntp format the functions below take. */
uint64_t mip_ntp_now(void);
enum mip_ident_verdict {
    MIP_IDENT_OK,
    MIP_IDENT_STALE,  /* outside the window: answer 133 with the HA's time */
    MIP_IDENT_REPLAY, /* not larger than the last accepted: answer 133 */
};
/* now_ntp is a 64-bit NTP timestamp (mip_ntp_now()); only the seconds are
 * compared, as a signed 32-bit difference (survives the 2036 NTP era wrap).
 * last_accepted 0 means none yet.  STALE is checked before REPLAY. */
enum mip_ident_verdict mip_ident_check(uint64_t ident, uint64_t last_accepted, uint64_t now_ntp,
                                       uint32_t window_s);
/* Identification for a 133 reply: high 32 bits from the HA's clock, low 32
 * bits from the request (RFC 5944 §5.7). */
uint64_t mip_ident_resync(uint64_t request_ident, uint64_t now_ntp);

/* Human-readable name of a reply code (for logs and mipctl). */
const char *mip_code_str(uint8_t code);

#endif
