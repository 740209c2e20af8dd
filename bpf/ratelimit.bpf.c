/* Per-source token bucket: rate_pps tokens per second, at most burst stored.
 * rate_pps and burst live in .data so a parameter change is written in place;
 * ratelimit_buckets is meant to be pinned so buckets survive chain swaps. */
#include "bpfleet.h"
#include "packet.h"

__u64 rate_pps = 1000;
__u64 burst = 1000;

struct bucket {
	__u64 tokens_milli; /* tokens x 1000, so slow rates still refill */
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct bucket);
} ratelimit_buckets SEC(".maps");

static __always_inline int over_rate(void *data, void *data_end)
{
	struct iphdr *ip = bpfleet_ipv4(data, data_end);
	__u64 now = bpf_ktime_get_ns(), cap, refill;
	struct bucket *b, fresh;
	__u32 src;

	if (!ip)
		return 0;
	src = ip->saddr;
	cap = burst * 1000;
	b = bpf_map_lookup_elem(&ratelimit_buckets, &src);
	if (!b) {
		fresh.tokens_milli = cap >= 1000 ? cap - 1000 : 0;
		fresh.last_ns = now;
		bpf_map_update_elem(&ratelimit_buckets, &src, &fresh, BPF_ANY);
		return cap < 1000;
	}
	/* elapsed_ns * rate_pps / 1e6 = milli-tokens earned */
	refill = (now - b->last_ns) * rate_pps / 1000000;
	b->last_ns = now;
	b->tokens_milli += refill;
	if (b->tokens_milli > cap)
		b->tokens_milli = cap;
	if (b->tokens_milli < 1000)
		return 1;
	b->tokens_milli -= 1000;
	return 0;
}

SEC("xdp")
int ratelimit_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return bpfleet_next(ctx, over_rate(data, end) ? XDP_DROP : XDP_PASS);
}

SEC("tc")
int ratelimit_tc(struct __sk_buff *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return bpfleet_next(ctx, over_rate(data, end) ? TC_ACT_SHOT : TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
