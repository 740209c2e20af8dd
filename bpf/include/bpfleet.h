/* bpfleet chain-member contract, shared by every program that runs in a chain.
 *
 * A member declares nothing itself: including this header gives it
 *   - bpfleet_chain: the PROG_ARRAY of its generation. The loader replaces it
 *     (bpf_map__reuse_fd) with the generation's array before load, so members
 *     never know their neighbours.
 *   - bpfleet_slot / bpfleet_chain_len: its position and the chain length, set
 *     by the loader in .rodata at load time.
 *   - bpfleet_stats: per-CPU counters (packets, missed tail calls, verdicts)
 *     that the loader pins per hook and member, so counts survive swaps.
 * and one rule: every path returns bpfleet_next(ctx, verdict).
 */
#ifndef BPFLEET_H
#define BPFLEET_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* The kernel allows 33 tail calls: the root's plus 32 inside the chain. */
#define BPFLEET_MAX_CHAIN 32

/* bpfleet_stats keys. Verdict v (-1..12) is counted at key v + 3. */
#define BPFLEET_STAT_PACKETS 0
#define BPFLEET_STAT_MISSED 1 /* tail call to a slot < chain_len failed */
#define BPFLEET_STAT_VERDICT_BASE 3
#define BPFLEET_STAT_SLOTS 16

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, BPFLEET_MAX_CHAIN);
	__type(key, __u32);
	__type(value, __u32);
} bpfleet_chain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPFLEET_STAT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} bpfleet_stats SEC(".maps");

const volatile __u32 bpfleet_slot = 0;
const volatile __u32 bpfleet_chain_len = 1;

static __always_inline void bpfleet_count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&bpfleet_stats, &key);

	if (n)
		*n += 1;
}

static __always_inline void bpfleet_count_verdict(int verdict)
{
	int key = verdict + BPFLEET_STAT_VERDICT_BASE;

	bpfleet_count(BPFLEET_STAT_PACKETS);
	if (key > 0 && key < BPFLEET_STAT_SLOTS)
		bpfleet_count((__u32)key);
}

/* Continue with the next slot; returns only at the end of the chain or when
 * the tail call failed (counted as missed if a next member should exist). */
static __always_inline int bpfleet_continue(void *ctx, int verdict)
{
	bpf_tail_call(ctx, &bpfleet_chain, bpfleet_slot + 1);
	if (bpfleet_slot + 1 < bpfleet_chain_len)
		bpfleet_count(BPFLEET_STAT_MISSED);
	return verdict;
}

static __always_inline int bpfleet_next_xdp(struct xdp_md *ctx, int verdict)
{
	bpfleet_count_verdict(verdict);
	if (verdict != XDP_PASS)
		return verdict; /* drop, tx, redirect, aborted end the chain */
	return bpfleet_continue(ctx, verdict);
}

static __always_inline int bpfleet_next_tc(struct __sk_buff *ctx, int verdict)
{
	bpfleet_count_verdict(verdict);
	if (verdict != TC_ACT_OK && verdict != TC_ACT_UNSPEC)
		return verdict;
	return bpfleet_continue(ctx, verdict);
}

/* One spelling for both hooks: dispatch on the context type. */
#define bpfleet_next(ctx, verdict)                          \
	_Generic((ctx), struct xdp_md *: bpfleet_next_xdp,  \
		 struct __sk_buff *: bpfleet_next_tc)((ctx), (verdict))

#endif /* BPFLEET_H */
