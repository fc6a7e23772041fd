/*
 * fuzz_wfcmd: a step's raw stdout/stderr through wfcmd_feed(), as the job
 * runner streams it: line splitting (LF, CRLF, lone CR), workflow
 * commands (::name::, ##[name]), annotations, legacy records, stop-commands,
 * echo, and secret masking.  The step is user code: every byte is
 * untrusted, and a secret that reaches the stored log is a leak.
 *
 * Input layout:
 *	byte 0     WFCMD_F_* flags (low four bits)
 *	byte 1     where the output splits into two steps (fraction of 256)
 *	bytes 2-5  seed for the chunk sizes
 *	rest       the output bytes
 *
 * The same output is processed twice, by two fresh states with the same
 * masks and flags: once in chunks of random size (down to one byte, so
 * CRLF pairs and secrets are cut), once in a single feed per step.  The
 * header promises that a chunk may end anywhere, so both runs must give
 * the same log and the same annotations, records and errors.  Every
 * masked output (log, annotations, errors, wfcmd_mask()) must be free of
 * the registered secrets; records are documented as unmasked and are only
 * compared.
 *
 * Bound: FUZZ_WFCMD_MAX bytes of output, far below WFCMD_LINE_MAX, so
 * masking must be exact.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wfcmd.h"

#include "fuzz.h"

#define FUZZ_WFCMD_MAX	(64 * 1024)
#define FUZZ_WFCMD_HDR	6

/* Registered before any output, as the runner registers job secrets. */
static const char *const fuzz_masks[] = {
	"Zq7Xw9Kp",
	"Ab1Cd2\nEf3Gh4",	/* each line becomes a secret too */
	"  padded-Mm5Nn6 \t",	/* registered trimmed */
};
/* What must never appear in masked text. */
static const char *const fuzz_secrets[] = {
	"Zq7Xw9Kp",
	"Ab1Cd2",
	"Ef3Gh4",
	"padded-Mm5Nn6",
};

static void
check_masked(const char *what, const char *s, size_t len)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof fuzz_secrets / sizeof fuzz_secrets[0]; i++) {
		if (memmem(s, len, fuzz_secrets[i],
		    strlen(fuzz_secrets[i])) != NULL) {
			fprintf(stderr, "secret \"%s\" in %s\n",
			    fuzz_secrets[i], what);
			abort();
		}
	}
}

/* check_masked() on what was appended to b since offset start. */
static void
check_masked_since(const char *what, const struct buf *b, size_t start)
{
	if (b->data != NULL && b->len > start)
		check_masked(what, b->data + start, b->len - start);
}

static void
add_str(struct buf *b, const char *tag, const char *s)
{
	buf_add_str(b, tag);
	buf_add_str(b, s == NULL ? "(null)" : s);
	buf_add_char(b, '\n');
}

/* Append what the step left in the state, and check it is masked. */
static void
dump_step(const struct wfcmd_state *st, struct buf *log, struct buf *recs)
{
	const struct wfcmd_annotation *a;
	const struct wfcmd_record *r;
	size_t i, start = log->len;

	for (i = 0; i < wfcmd_nannotations(st); i++) {
		a = wfcmd_annotation(st, i);
		FUZZ_ASSERT(a != NULL && a->message != NULL);
		buf_printf(log, "ann %d %d %d %d %d\n", (int)a->level,
		    a->line, a->end_line, a->col, a->end_col);
		add_str(log, "msg ", a->message);
		add_str(log, "title ", a->title);
		add_str(log, "file ", a->file);
	}
	buf_printf(log, "dropped %zu\n", wfcmd_annotations_dropped(st));
	for (i = 0; i < wfcmd_nerrors(st); i++)
		add_str(log, "err ", wfcmd_error(st, i));
	buf_printf(log, "failed %d stopped %d echo %d\n", wfcmd_failed(st),
	    wfcmd_stopped(st), wfcmd_echo(st));
	check_masked_since("annotations or errors", log, start);
	/* Documented: any command failure fails the step. */
	FUZZ_ASSERT(wfcmd_nerrors(st) == 0 || wfcmd_failed(st));

	for (i = 0; i < wfcmd_nrecords(st); i++) {
		r = wfcmd_record(st, i);
		FUZZ_ASSERT(r != NULL && r->value != NULL);
		buf_printf(recs, "rec %d\n", (int)r->kind);
		add_str(recs, "name ", r->name);
		add_str(recs, "value ", r->value);
	}
}

/* Feed one step's output, in chunks when rng is not NULL. */
static void
feed_step(struct wfcmd_state *st, const uint8_t *p, size_t n,
    struct fuzz_rng *rng, struct buf *log)
{
	size_t off = 0, k;

	wfcmd_step_begin(st);
	while (off < n) {
		k = rng != NULL ? fuzz_rng_chunk(rng, n - off) : n - off;
		wfcmd_feed(st, (const char *)p + off, k, log);
		FUZZ_ASSERT(wfcmd_pending(st) <= WFCMD_LINE_MAX);
		off += k;
	}
	wfcmd_flush(st, log);
	FUZZ_ASSERT(wfcmd_pending(st) == 0);
}

static void
run(const uint8_t *data, size_t size, int chunked, struct buf *log,
    struct buf *recs)
{
	struct wfcmd_state *st;
	struct fuzz_rng rng;
	const uint8_t *out = data + FUZZ_WFCMD_HDR;
	size_t n = size - FUZZ_WFCMD_HDR, split, i, logstart;

	split = n * data[1] / 256;
	fuzz_rng_init(&rng, data + 2, 4);

	st = wfcmd_new();
	wfcmd_set_flags(st, data[0] & 0x0f);
	FUZZ_ASSERT(wfcmd_flags(st) == (data[0] & 0x0f));
	for (i = 0; i < sizeof fuzz_masks / sizeof fuzz_masks[0]; i++)
		FUZZ_ASSERT(wfcmd_add_mask(st, fuzz_masks[i]) == 0);

	logstart = log->len;
	feed_step(st, out, split, chunked ? &rng : NULL, log);
	check_masked_since("the log of step 1", log, logstart);
	dump_step(st, log, recs);

	logstart = log->len;
	feed_step(st, out + split, n - split, chunked ? &rng : NULL, log);
	check_masked_since("the log of step 2", log, logstart);
	dump_step(st, log, recs);

	wfcmd_free(st);
}

/* wfcmd_mask() on the raw output, as the runner masks its own text. */
static void
run_mask(const uint8_t *data, size_t size)
{
	struct wfcmd_state *st;
	char *text, *masked;
	size_t i;

	st = wfcmd_new();
	for (i = 0; i < sizeof fuzz_masks / sizeof fuzz_masks[0]; i++)
		FUZZ_ASSERT(wfcmd_add_mask(st, fuzz_masks[i]) == 0);
	text = fuzz_strndup(data + FUZZ_WFCMD_HDR, size - FUZZ_WFCMD_HDR);
	masked = wfcmd_mask(st, text);
	FUZZ_ASSERT(masked != NULL);
	check_masked("wfcmd_mask()", masked, strlen(masked));
	free(masked);
	free(text);
	wfcmd_free(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf log1 = { 0 }, recs1 = { 0 }, log2 = { 0 }, recs2 = { 0 };

	if (size < FUZZ_WFCMD_HDR || size - FUZZ_WFCMD_HDR > FUZZ_WFCMD_MAX)
		return 0;

	run(data, size, 1, &log1, &recs1);
	run(data, size, 0, &log2, &recs2);
	if (log1.len != log2.len || (log1.len > 0 &&
	    memcmp(log1.data, log2.data, log1.len) != 0)) {
		fprintf(stderr, "chunked log differs from one-shot log\n"
		    "--- chunked (%zu bytes)\n%.*s\n--- one-shot (%zu bytes)\n"
		    "%.*s\n", log1.len, (int)log1.len, log1.data, log2.len,
		    (int)log2.len, log2.data);
		abort();
	}
	FUZZ_ASSERT(recs1.len == recs2.len && (recs1.len == 0 ||
	    memcmp(recs1.data, recs2.data, recs1.len) == 0));
	buf_free(&log1);
	buf_free(&recs1);
	buf_free(&log2);
	buf_free(&recs2);

	run_mask(data, size);
	return 0;
}
