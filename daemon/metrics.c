/*
 * metrics: GET /metrics in Prometheus' text exposition format (version
 * 0.0.4), behind [metrics] access = public | token | off.
 *
 * Two sources.  What only kilnd sees is counted in memory: webhook
 * deliveries by event and HTTP status (counted when the answer has been
 * sent, from libevent's request-complete callback, so every path that
 * answers is counted once), and process figures read from /proc/self.
 * Also in memory: the webhook intake latency histogram (a delivery's body
 * read to its answer), the database pool's busy connections, waiting
 * queries and their wait histogram (daemon/db.c), and the log bytes the
 * log server committed (daemon/logsrv.c); those start at zero with kilnd.
 * What the database holds -- runs and jobs by state, the queue by label
 * set, job wait and duration and event planning histograms, the outbox by
 * state, registered workers -- comes from
 * one asynchronous query per scrape, so a scrape costs one round trip and
 * the counters survive restarts.
 *
 * Label values come from users (runs-on labels) and are escaped as the
 * format requires; event names are GitHub's own (unknown names are
 * counted as "other"), which bounds the series.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "auth.h"
#include "db.h"
#include "event.h"
#include "hist.h"
#include "kilnd.h"
#include "log.h"
#include "logsrv.h"
#include "util.h"

#define METRICS_MAX_EVENTS	64	/* distinct event names counted */
#define METRICS_MAX_CODES	8	/* distinct status codes per event */

struct metrics_code {
	int		 code;
	uint64_t	 n;
};

struct metrics_event {
	char			 name[48];
	struct metrics_code	 codes[METRICS_MAX_CODES];
};

struct metrics {
	struct metrics_event	 events[METRICS_MAX_EVENTS];
	int			 nevents;
	uint64_t		 deliveries_dropped; /* past the caps above */
	struct hist		 intake;	/* seconds, body to answer */
};

static const double metrics_intake_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	hist_init(&m->intake, metrics_intake_bounds,
	    nitems(metrics_intake_bounds));
	return m;
}

void
metrics_observe_intake(struct metrics *m, double seconds)
{
	hist_observe(&m->intake, seconds);
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static void
metrics_count_delivery(struct metrics *m, const char *event, int code)
{
	struct metrics_event *e = NULL;
	int i;

	if (event == NULL || event_kind_find(event) == NULL)
		event = "other";
	for (i = 0; i < m->nevents; i++)
		if (strcmp(m->events[i].name, event) == 0) {
			e = &m->events[i];
			break;
		}
	if (e == NULL) {
		if (m->nevents == METRICS_MAX_EVENTS) {
			m->deliveries_dropped++;
			return;
		}
		e = &m->events[m->nevents++];
		snprintf(e->name, sizeof e->name, "%s", event);
	}
	for (i = 0; i < METRICS_MAX_CODES; i++) {
		if (e->codes[i].code == 0)
			e->codes[i].code = code;
		if (e->codes[i].code == code) {
			e->codes[i].n++;
			return;
		}
	}
	m->deliveries_dropped++;
}

static void
metrics_delivery_done_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;

	metrics_count_delivery(m, evhttp_find_header(
	    evhttp_request_get_input_headers(req), "X-GitHub-Event"),
	    evhttp_request_get_response_code(req));
}

void
metrics_watch_delivery(struct metrics *m, struct evhttp_request *req)
{
	evhttp_request_set_on_complete_cb(req, metrics_delivery_done_cb, m);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
metrics_label(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static void
metrics_header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* Bucket bounds in seconds, shared by the SQL and the text. */
static const char *const metrics_buckets[] = {
	"0.1", "0.5", "1", "5", "10", "30", "60", "300", "900", "3600",
	"21600",
};

static void
metrics_histogram(struct evbuffer *out, const char *name, const char *help,
    json_t *counts)
{
	size_t i, nb = nitems(metrics_buckets);

	metrics_header(out, name, "histogram", help);
	if (!json_is_array(counts) || json_array_size(counts) != nb + 2)
		return;
	for (i = 0; i < nb; i++)
		evbuffer_add_printf(out, "%s_bucket{le=\"%s\"} %" JSON_INTEGER_FORMAT
		    "\n", name, metrics_buckets[i],
		    json_integer_value(json_array_get(counts, i)));
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" JSON_INTEGER_FORMAT
	    "\n%s_sum %.6f\n%s_count %" JSON_INTEGER_FORMAT "\n", name,
	    json_integer_value(json_array_get(counts, nb)), name,
	    json_number_value(json_array_get(counts, nb + 1)), name,
	    json_integer_value(json_array_get(counts, nb)));
}

/* runs or jobs by status and conclusion: [{"status","conclusion","n"}] */
static void
metrics_states(struct evbuffer *out, const char *name, const char *help,
    json_t *rows)
{
	json_t *row;
	size_t i;

	metrics_header(out, name, "gauge", help);
	json_array_foreach(rows, i, row) {
		const char *st = json_string_value(json_object_get(row,
		    "status"));
		const char *co = json_string_value(json_object_get(row,
		    "conclusion"));

		evbuffer_add_printf(out, "%s{status=\"", name);
		metrics_label(out, st ? st : "");
		evbuffer_add_printf(out, "\",conclusion=\"");
		metrics_label(out, co ? co : "");
		evbuffer_add_printf(out, "\"} %" JSON_INTEGER_FORMAT "\n",
		    json_integer_value(json_object_get(row, "n")));
	}
}

/* An in-memory histogram (common/hist.h) in the text format. */
static void
metrics_hist(struct evbuffer *out, const char *name, const char *help,
    const struct hist *h)
{
	size_t i;

	metrics_header(out, name, "histogram", help);
	for (i = 0; i < h->nbounds; i++)
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n",
		    name, h->bounds[i], hist_le(h, i));
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	    "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->count, name,
	    h->sum, name, h->count);
}

/* What kilnd's database pool, log server and webhook intake count. */
static void
metrics_memory(struct kilnd *k, struct evbuffer *out)
{
	const struct hist *wait;
	int busy, queued;

	db_stats(k->db, &busy, &queued, &wait);
	metrics_header(out, "kiln_database_connections_busy", "gauge",
	    "Connections of kilnd's pool running a query.");
	evbuffer_add_printf(out, "kiln_database_connections_busy %d\n", busy);
	metrics_header(out, "kiln_database_queries_waiting", "gauge",
	    "Queries of kilnd waiting for a free connection.");
	evbuffer_add_printf(out, "kiln_database_queries_waiting %d\n", queued);
	metrics_hist(out, "kiln_database_wait_seconds", "Time a query of "
	    "kilnd waited for a free connection.", wait);
	metrics_hist(out, "kiln_webhook_intake_seconds", "Time from a "
	    "webhook delivery's body read to kilnd's answer.",
	    &k->metrics->intake);
	metrics_header(out, "kiln_log_bytes_stored_total", "counter",
	    "Job log bytes committed to disk since kilnd started.");
	evbuffer_add_printf(out, "kiln_log_bytes_stored_total %" PRIu64 "\n",
	    k->logsrv != NULL ? logsrv_bytes_stored(k->logsrv) : 0);
}

/* A gauge by one label: rows [{label: "...", "n": N}]. */
static void
metrics_by(struct evbuffer *out, const char *name, const char *help,
    const char *label, json_t *rows)
{
	const char *v;
	json_t *row;
	size_t i;

	metrics_header(out, name, "gauge", help);
	json_array_foreach(rows, i, row) {
		v = json_string_value(json_object_get(row, label));
		evbuffer_add_printf(out, "%s{%s=\"", name, label);
		metrics_label(out, v != NULL ? v : "");
		evbuffer_add_printf(out, "\"} %" JSON_INTEGER_FORMAT "\n",
		    json_integer_value(json_object_get(row, "n")));
	}
}

static void
metrics_process(struct kilnd *k, struct evbuffer *out)
{
	long pages = 0, resident = 0;
	int fds = 0, i, e;
	struct dirent *d;
	FILE *f;
	DIR *dir;

	/* procfs is memory, not disk: reading it does not block the loop. */
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		while ((d = readdir(dir)) != NULL)
			if (d->d_name[0] != '.')
				fds++;
		closedir(dir);
		fds--;		/* the directory stream itself */
	}
	metrics_header(out, "kiln_process_resident_memory_bytes", "gauge",
	    "Resident memory of kilnd.");
	evbuffer_add_printf(out, "kiln_process_resident_memory_bytes %lld\n",
	    (long long)resident * sysconf(_SC_PAGESIZE));
	metrics_header(out, "kiln_process_open_fds", "gauge",
	    "Open file descriptors of kilnd.");
	evbuffer_add_printf(out, "kiln_process_open_fds %d\n", fds);
	metrics_header(out, "kiln_database_connections", "gauge",
	    "Database connections of kilnd's pool that are usable.");
	evbuffer_add_printf(out, "kiln_database_connections %d\n",
	    db_connected(k->db));
	metrics_header(out, "kiln_local_workers", "gauge",
	    "kiln-worker processes kilnd supervises that are running.");
	evbuffer_add_printf(out, "kiln_local_workers %d\n",
	    supervisor_running(k->sup));
	metrics_header(out, "kiln_webhook_deliveries_total", "counter",
	    "Webhook deliveries answered, by event and HTTP status.");
	for (i = 0; i < k->metrics->nevents; i++) {
		const struct metrics_event *ev = &k->metrics->events[i];

		for (e = 0; e < METRICS_MAX_CODES && ev->codes[e].code; e++)
			evbuffer_add_printf(out, "kiln_webhook_deliveries_total"
			    "{event=\"%s\",code=\"%d\"} %" PRIu64 "\n",
			    ev->name, ev->codes[e].code, ev->codes[e].n);
	}
}

#define METRICS_HIST(expr, from)					\
	"(SELECT json_build_array("					\
	"count(*) FILTER (WHERE d <= 0.1), count(*) FILTER (WHERE d <= 0.5),"\
	"count(*) FILTER (WHERE d <= 1), count(*) FILTER (WHERE d <= 5),"	\
	"count(*) FILTER (WHERE d <= 10), count(*) FILTER (WHERE d <= 30),"	\
	"count(*) FILTER (WHERE d <= 60), count(*) FILTER (WHERE d <= 300),"	\
	"count(*) FILTER (WHERE d <= 900),"				\
	"count(*) FILTER (WHERE d <= 3600),"				\
	"count(*) FILTER (WHERE d <= 21600), count(*),"		\
	"coalesce(sum(d), 0)) FROM (SELECT extract(epoch FROM " expr	\
	")::float8 AS d FROM " from ") x)"

static const char metrics_sql[] =
    "SELECT json_build_object("
    "'runs', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT status, "
    "  coalesce(conclusion, '') AS conclusion, count(*) AS n FROM runs "
    "  GROUP BY 1, 2 ORDER BY 1, 2) x),"
    "'jobs', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT status, "
    "  coalesce(conclusion, '') AS conclusion, count(*) AS n FROM jobs "
    "  GROUP BY 1, 2 ORDER BY 1, 2) x),"
    "'queue', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT "
    "  array_to_string(labels, ',') AS labels, count(*) AS n FROM jobs "
    "  WHERE status = 'queued' GROUP BY 1 ORDER BY 1) x),"
    "'workers', (SELECT count(*) FROM workers "
    "  WHERE last_seen > now() - interval '2 minutes'),"
    "'outbox', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT status, "
    "  count(*) AS n FROM outbox GROUP BY 1 ORDER BY 1) x),"
    "'wait', " METRICS_HIST("started_at - created_at",
	"jobs WHERE started_at IS NOT NULL") ","
    "'duration', " METRICS_HIST("completed_at - started_at",
	"jobs WHERE completed_at IS NOT NULL AND started_at IS NOT NULL") ","
    "'planning', " METRICS_HIST("completed_at - created_at",
	"events WHERE status = 'completed' AND completed_at IS NOT NULL") ")";

static void
metrics_reply(struct kilnd *k, struct evhttp_request *req, PGresult *res)
{
	struct evbuffer *out = evbuffer_new();
	json_t *doc = NULL;

	if (res != NULL && PQntuples(res) == 1)
		doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (doc == NULL) {
		evbuffer_free(out);
		http_reply_error(req, 503, "database unavailable");
		return;
	}
	metrics_process(k, out);
	metrics_memory(k, out);
	metrics_states(out, "kiln_runs", "Workflow runs by status and "
	    "conclusion.", json_object_get(doc, "runs"));
	metrics_states(out, "kiln_jobs", "Jobs by status and conclusion.",
	    json_object_get(doc, "jobs"));
	metrics_by(out, "kiln_queue_jobs", "Queued jobs by runs-on label "
	    "set.", "labels", json_object_get(doc, "queue"));
	metrics_header(out, "kiln_workers_registered", "gauge",
	    "Workers (local or remote) seen in the last two minutes.");
	evbuffer_add_printf(out, "kiln_workers_registered %" JSON_INTEGER_FORMAT
	    "\n", json_integer_value(json_object_get(doc, "workers")));
	metrics_histogram(out, "kiln_job_wait_seconds", "Time from a job "
	    "being queued to it starting.", json_object_get(doc, "wait"));
	metrics_histogram(out, "kiln_job_duration_seconds", "Time from a "
	    "job starting to it completing.", json_object_get(doc,
	    "duration"));
	metrics_histogram(out, "kiln_event_planning_seconds", "Time from an "
	    "event (webhook, schedule, dispatch) being stored to it being "
	    "planned into runs.", json_object_get(doc, "planning"));
	metrics_by(out, "kiln_outbox_calls", "Calls to GitHub's API in the "
	    "outbox by state (pending: the backlog; failed: gave up), until "
	    "pruned.", "status", json_object_get(doc, "outbox"));
	json_decref(doc);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

struct metrics_scrape {
	struct kilnd		*k;
	struct evhttp_request	*req;
};

static void
metrics_query_cb(PGresult *res, const char *error, void *arg)
{
	struct metrics_scrape *sc = arg;

	if (error != NULL) {
		log_warnx("metrics: %s", error);
		res = NULL;
	}
	metrics_reply(sc->k, sc->req, res);
	free(sc);
}

static void
metrics_query(struct metrics_scrape *sc)
{
	if (db_query(sc->k->db, metrics_sql, 0, NULL, metrics_query_cb,
	    sc) == -1) {
		http_reply_error(sc->req, 503, "database queue is full");
		free(sc);
	}
}

static void
metrics_auth_cb(const struct auth_result *r, void *arg)
{
	struct metrics_scrape *sc = arg;

	if (r->error) {
		http_reply_error(sc->req, 503, "database unavailable");
		free(sc);
	} else if (r->scope == AUTH_NONE) {
		evhttp_add_header(evhttp_request_get_output_headers(sc->req),
		    "WWW-Authenticate", "Bearer realm=\"kiln\"");
		http_reply_error(sc->req, 401, "[metrics] access = token: send "
		    "Authorization: Bearer with a token from cictl token "
		    "create");
		free(sc);
	} else
		metrics_query(sc);
}

void
metrics_get(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	struct metrics_scrape *sc;
	const char *access = k->cfg->metrics_access;

	if (strcmp(access, "off") == 0) {
		http_reply_error(req, 404, "metrics are off ([metrics] "
		    "access = off)");
		return;
	}
	sc = xcalloc(1, sizeof *sc);
	sc->k = k;
	sc->req = req;
	if (strcmp(access, "token") == 0) {
		if (auth_request(k, req, metrics_auth_cb, sc) == -1) {
			http_reply_error(req, 503, "database queue is full");
			free(sc);
		}
		return;
	}
	metrics_query(sc);
}
