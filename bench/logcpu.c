/*
 * bench/logcpu.c: the worker's per-byte log path without the sockets --
 * what job_sink_cb() does to each chunk a step writes (wfcmd_feed(): line
 * splitting, workflow commands, masks; wfcmd_locate_annotations()) -- over
 * MiB mebibytes of zeros or pseudo-random bytes in 64 KiB chunks, one
 * secret registered.  The baseline, same run: memcpy of the same chunks.
 * Meant to run under callgrind (bench/logcpu.sh), whose instruction counts
 * repeat on a loaded box where wall time does not.
 *
 * usage: logcpu zeros|random|memcpy MiB
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wfcmd.h"

#define CHUNK	65536

int
main(int argc, char **argv)
{
	struct wfcmd_state *st;
	struct buf out = { 0 };
	char *in, *copy;
	size_t total, done, i, nann, outbytes = 0;
	unsigned int seed = 1;
	int mode;

	if (argc != 3) {
		fprintf(stderr, "usage: logcpu zeros|random|memcpy MiB\n");
		return 2;
	}
	mode = argv[1][0];
	/* 0 MiB: start-up and set-up only, subtracted by bench/logcpu.sh. */
	total = strtoul(argv[2], NULL, 10) << 20;
	in = xcalloc(1, CHUNK);
	copy = xmalloc(CHUNK);
	/* The same bytes each chunk: the generator stays out of the count. */
	if (mode != 'z')
		for (i = 0; i < CHUNK; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
		}
	st = wfcmd_new();
	if (wfcmd_add_mask(st, "not-in-the-output") == -1)
		return 1;
	for (done = 0; done < total; done += CHUNK) {
		if (mode == 'm') {
			memcpy(copy, in, CHUNK);
			outbytes += (unsigned char)copy[done % CHUNK];
			continue;
		}
		nann = wfcmd_nannotations(st);
		wfcmd_feed(st, in, CHUNK, &out);
		wfcmd_locate_annotations(st, nann, &out, 1);
		outbytes += out.len;
		buf_clear(&out);
	}
	wfcmd_flush(st, &out);
	outbytes += out.len;
	printf("%s: %zu bytes in, %zu out\n", argv[1], total, outbytes);
	buf_free(&out);
	wfcmd_free(st);
	free(in);
	free(copy);
	return 0;
}
