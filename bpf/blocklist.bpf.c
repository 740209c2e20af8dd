/* Drops IPv4 packets whose source address matches a prefix of blocklist_v4. */
#include "bpfleet.h"
#include "packet.h"

struct blocklist_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct blocklist_key);
	__type(value, __u8);
} blocklist_v4 SEC(".maps");

static __always_inline int blocked(void *data, void *data_end)
{
	struct iphdr *ip = bpfleet_ipv4(data, data_end);
	struct blocklist_key key = { .prefixlen = 32 };

	if (!ip)
		return 0;
	__builtin_memcpy(key.addr, &ip->saddr, 4);
	return bpf_map_lookup_elem(&blocklist_v4, &key) != NULL;
}

SEC("xdp")
int blocklist_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return bpfleet_next(ctx, blocked(data, end) ? XDP_DROP : XDP_PASS);
}

SEC("tc")
int blocklist_tc(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return bpfleet_next(ctx, blocked(data, end) ? TC_ACT_SHOT : TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
