/* Helpers shared by the mipproto sources (not part of the public API). */
#ifndef MIP_CODEC_INTERNAL_H
#define MIP_CODEC_INTERNAL_H

#include "mip_proto.h"

#include <string.h>

static inline uint16_t mip_rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t mip_rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t mip_rd64(const uint8_t *p)
{
    return ((uint64_t)mip_rd32(p) << 32) | mip_rd32(p + 4);
}

static inline void mip_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void mip_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void mip_wr64(uint8_t *p, uint64_t v)
{
    mip_wr32(p, (uint32_t)(v >> 32));
    mip_wr32(p + 4, (uint32_t)v);
}

/* Reserves n octets at the end of the writer; NULL (and the error latched)
 * when the writer already failed or lacks space. */
uint8_t *mip_writer_reserve(struct mip_writer *w, size_t n);
void mip_writer_fail(struct mip_writer *w, enum mip_err e);

#define MIP_MD5_LEN 16
#define MIP_SHA1_LEN 20
#define MIP_SHA256_LEN 32

#endif
