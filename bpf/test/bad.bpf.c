/* Deliberately rejected by the verifier (reads past the packet without a
 * bounds check): tests that a refused member leaves the running chain alone. */
#include "bpfleet.h"

SEC("xdp")
int bad_xdp(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return bpfleet_next(ctx, data[64] ? XDP_PASS : XDP_DROP);
}

SEC("tc")
int bad_tc(struct __sk_buff *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return bpfleet_next(ctx, data[64] ? TC_ACT_OK : TC_ACT_SHOT);
}

char LICENSE[] SEC("license") = "GPL";
