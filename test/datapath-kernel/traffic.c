/* Test traffic: `send` emits UDP datagrams carrying a sequence number from a
 * "good" and (every Nth) a "bad" source address until SIGINT, then prints what
 * left the sender; `recv` counts what arrived, per source, and checks the
 * sequence numbers. Small SO_SNDBUF and IP_RECVERR make "sent" mean "left the
 * sender": a refused send is retried, not counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

struct msg { uint64_t seq; uint32_t bad; };

static int udp_bound(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) { perror("bind"); exit(2); }
	return fd;
}

static int do_send(const char *good, const char *bad, const char *dst, int port, long every, long max)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	int g = udp_bound(good, 0), b = udp_bound(bad, 0), small = 4096, one = 1;
	uint64_t sent_good = 0, sent_bad = 0, retries = 0;
	struct msg m = { 0 };

	inet_pton(AF_INET, dst, &to.sin_addr);
	for (int fd = g; ; fd = b) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
		if (fd == b) break;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop && (max <= 0 || (long)sent_good < max)) {
		int fd = (every > 0 && m.seq % every == every - 1) ? b : g;

		m.bad = fd == b;
		if (sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			retries++;
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
			/* an ICMP error queued by IP_RECVERR: drain it, then retry */
			char buf[256];
			recv(fd, buf, sizeof(buf), MSG_ERRQUEUE | MSG_DONTWAIT);
			continue;
		}
		if (m.bad) sent_bad++; else sent_good++;
		m.seq++;
	}
	printf("{\"sentGood\":%lu,\"sentBad\":%lu,\"retries\":%lu,\"lastSeq\":%lu}\n",
	       sent_good, sent_bad, retries, m.seq);
	return 0;
}

static int do_recv(const char *addr, int port)
{
	int fd = udp_bound(addr, port), big = 64 << 20;
	uint64_t good = 0, bad = 0, dup = 0, cap = 1 << 20, max = 0;
	uint8_t *seen = calloc(cap, 1);
	struct msg m;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		ssize_t n = recv(fd, &m, sizeof(m), 0);

		if (n != sizeof(m)) continue;
		if (m.bad) { bad++; continue; }
		while (m.seq >= cap) { seen = realloc(seen, cap * 2); memset(seen + cap, 0, cap); cap *= 2; }
		if (seen[m.seq]) dup++;
		seen[m.seq] = 1;
		good++;
		if (m.seq > max) max = m.seq;
	}
	printf("{\"good\":%lu,\"bad\":%lu,\"dup\":%lu,\"maxSeq\":%lu}\n", good, bad, dup, max);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };

	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: recv() returns on SIGINT */
	if (argc == 8 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], argv[4], atoi(argv[5]), atol(argv[6]), atol(argv[7]));
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: traffic send GOOD BAD DST PORT EVERY MAX | recv ADDR PORT\n");
	return 2;
}
