/*
 * Model helpers: address mapping and release.
 */
#include "model/model.h"

uint32_t model_vpc_map(const struct model *m, int v, uint32_t vpc_addr)
{
	return m->vpcs[v].lo_base | (vpc_addr & 0xffffu);
}
