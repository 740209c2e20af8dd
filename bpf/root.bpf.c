/* Root programs: attached once per hook, they tail-call slot 0 of a pinned
 * one-entry PROG_ARRAY. Swapping a whole chain is one update of that slot.
 *
 * The key is read from .bss (a map the verifier cannot constant-fold), so the
 * kernel emits an indirect tail call: a slot update then costs ~1.5 us instead
 * of the 60-120 us text poke of a direct jump. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bpfleet_root_slot SEC(".maps");

#define ROOT_STAT_ENTERED 0
#define ROOT_STAT_FALLBACK 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bpfleet_root_stats SEC(".maps");

volatile __u32 bpfleet_root_key = 0;
/* 0 = pass, 1 = drop; in .data so a policy change needs no reload. */
volatile __u32 bpfleet_root_policy = 0;

static __always_inline void root_count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&bpfleet_root_stats, &key);

	if (n)
		*n += 1;
}

SEC("xdp")
int bpfleet_root_xdp(struct xdp_md *ctx)
{
	root_count(ROOT_STAT_ENTERED);
	bpf_tail_call(ctx, &bpfleet_root_slot, bpfleet_root_key);
	root_count(ROOT_STAT_FALLBACK);
	return bpfleet_root_policy ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int bpfleet_root_tc(struct __sk_buff *ctx)
{
	root_count(ROOT_STAT_ENTERED);
	bpf_tail_call(ctx, &bpfleet_root_slot, bpfleet_root_key);
	root_count(ROOT_STAT_FALLBACK);
	return bpfleet_root_policy ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
