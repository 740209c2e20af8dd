/* Counts packets and bytes in counter_stats and always continues the chain. */
#include "bpfleet.h"

struct counter_value {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counter_value);
} counter_stats SEC(".maps");

static __always_inline void count(__u64 bytes)
{
	__u32 key = 0;
	struct counter_value *v = bpf_map_lookup_elem(&counter_stats, &key);

	if (v) {
		v->packets += 1;
		v->bytes += bytes;
	}
}

SEC("xdp")
int counter_xdp(struct xdp_md *ctx)
{
	count(ctx->data_end - ctx->data);
	return bpfleet_next(ctx, XDP_PASS);
}

SEC("tc")
int counter_tc(struct __sk_buff *ctx)
{
	count(ctx->len);
	return bpfleet_next(ctx, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
