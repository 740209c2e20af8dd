/* Bounds-checked IPv4 header access shared by the example programs. */
#ifndef BPFLEET_PACKET_H
#define BPFLEET_PACKET_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>

/* Returns the IPv4 header inside [data, data_end), or NULL for anything else. */
static __always_inline struct iphdr *bpfleet_ipv4(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;

	if ((void *)(eth + 1) > data_end)
		return NULL;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return NULL;
	return ip;
}

#endif
