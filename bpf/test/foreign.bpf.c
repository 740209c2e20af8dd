// SPDX-License-Identifier: GPL-2.0
// Another tool's XDP program, attached by netlink the old way: our root cannot
// take its place (tests of an attach that fails mid-apply).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int foreign_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
