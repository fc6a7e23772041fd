/*
 * sched: kilnd's cron.  A timer fires just after each whole minute (UTC);
 * each tick reads every schedule with the last slot it fired for, and
 * fires what is due -- all from the event loop, through the async pool.
 *
 * The rule, per schedule: the slot to fire is the LATEST fire time of its
 * cron line in (floor, now], where floor is the later of the last slot it
 * fired and the moment kilnd first saw the schedule (a new or edited line
 * never fires a minute that passed before it existed).  After downtime
 * that is the most recent missed minute, fired once, not every missed
 * one ([schedules] catch_up = latest), and the run's note says how late;
 * with catch_up = none a slot more than a minute old is skipped.
 * kiln_schedule_fire() inserts the (schedule, slot) row and the event in
 * one statement: a slot fires once however many kilnds share the
 * database and whenever one restarts.
 *
 * The clock is kiln_now() (common/clock.h): under KILN_TEST_CLOCK the
 * timer polls every 200 ms instead of waiting for the next minute.
 */
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "clock.h"
#include "cron.h"
#include "db.h"
#include "kilnd.h"
#include "log.h"
#include "util.h"

/* How far back a catch-up looks (a longer downtime fires nothing older). */
#define SCHED_LOOKBACK_S	(31 * 86400)
/* A slot fired later than this is late (and skipped under catch_up none). */
#define SCHED_LATE_S		60
#define SCHED_TEST_POLL_MS	200

struct sched {
	struct kilnd	*kilnd;
	struct event	*timer;
	int		 busy;		/* a tick's queries are in flight */
	int		 catch_up;	/* 1: latest, 0: none */
	int		 pending;	/* fire statements still running */
};

static void sched_arm(struct sched *);

static void
sched_ignore_cb(PGresult *res, const char *error, void *arg)
{
	char why[300];

	if (error != NULL)
		log_warnx("schedules: %s", log_escape(error, 200, why,
		    sizeof why));
}

/* The latest fire time of c in (floor, now], or -1. */
static int64_t
sched_due(const struct cron *c, int64_t floor, int64_t now)
{
	int64_t t = floor, next, last = -1;

	if (t < now - SCHED_LOOKBACK_S)
		t = now - SCHED_LOOKBACK_S;
	while (cron_next(c, t, &next) == 0 && next <= now) {
		last = next;
		t = next;
	}
	return last;
}

static void
sched_fired_cb(PGresult *res, const char *error, void *arg)
{
	struct sched *s = arg;
	char why[300];

	if (error != NULL)
		log_warnx("firing a schedule: %s", log_escape(error, 200, why,
		    sizeof why));
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		log_info("schedule fired: event %s", PQgetvalue(res, 0, 0));
	if (--s->pending == 0)
		s->busy = 0;
}

static void
sched_fire(struct sched *s, const char *id, const char *cron, int64_t slot,
    int64_t now)
{
	char slotbuf[32], nowbuf[32], note[256], when[64];
	const char *params[4] = { id, slotbuf, nowbuf, NULL };
	struct tm tm;
	time_t t = (time_t)slot;

	snprintf(slotbuf, sizeof slotbuf, "%lld", (long long)slot);
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
	if (now - slot >= SCHED_LATE_S) {
		snprintf(note, sizeof note, "scheduled for %s (cron '%.64s'), "
		    "fired %lld s late: kilnd was not running then", when, cron,
		    (long long)(now - slot));
		params[3] = note;
	}
	s->pending++;
	if (db_query(s->kilnd->db, "SELECT kiln_schedule_fire($1::bigint, "
	    "$2::bigint, $3::bigint, $4)", 4, params, sched_fired_cb, s) == -1)
		s->pending--;
}

static void
sched_rows_cb(PGresult *res, const char *error, void *arg)
{
	struct sched *s = arg;
	int64_t now = kiln_now(), since, last, floor, slot;
	char why[300], nowbuf[32];
	const char *params[2];
	struct cron c;
	int i;

	if (error != NULL) {
		log_warnx("reading the schedules: %s", log_escape(error, 200,
		    why, sizeof why));
		s->busy = 0;
		return;
	}
	snprintf(nowbuf, sizeof nowbuf, "%lld", (long long)now);
	s->pending = 1;		/* held until the loop is done */
	for (i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		const char *cron = PQgetvalue(res, i, 1);

		if (PQgetisnull(res, i, 2)) {
			/* First sight: from now on. */
			params[0] = id;
			params[1] = nowbuf;
			db_query(s->kilnd->db, "UPDATE schedules SET since = "
			    "$2::bigint WHERE id = $1::bigint AND since IS NULL",
			    2, params, sched_ignore_cb, NULL);
			continue;
		}
		if (cron_parse(cron, &c, why, sizeof why) == -1)
			continue;	/* lint refused it; the planner too */
		since = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		last = PQgetisnull(res, i, 3) ? -1 :
		    strtoll(PQgetvalue(res, i, 3), NULL, 10);
		floor = last > since ? last : since;
		if ((slot = sched_due(&c, floor, now)) == -1)
			continue;
		if (!s->catch_up && now - slot >= SCHED_LATE_S)
			continue;
		sched_fire(s, id, cron, slot, now);
	}
	if (--s->pending == 0)
		s->busy = 0;
}

static void
sched_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	if (!s->busy && !s->kilnd->stopping) {
		s->busy = 1;
		if (db_query(s->kilnd->db, "SELECT s.id, s.cron, s.since, "
		    "(SELECT max(f.slot) FROM schedule_fires f WHERE "
		    "f.schedule_id = s.id) FROM schedules s ORDER BY s.id", 0,
		    NULL, sched_rows_cb, s) == -1)
			s->busy = 0;
	}
	sched_arm(s);
}

/* Next tick: 200 ms after the next whole minute (never before it). */
static void
sched_arm(struct sched *s)
{
	struct timeval tv, now;
	int64_t ms;

	if (kiln_clock_is_test())
		ms = SCHED_TEST_POLL_MS;
	else {
		gettimeofday(&now, NULL);
		ms = 60000 - ((int64_t)(now.tv_sec % 60) * 1000 +
		    now.tv_usec / 1000) + 200;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(s->timer, &tv);
}

struct sched *
sched_new(struct kilnd *k)
{
	struct sched *s = xcalloc(1, sizeof *s);

	s->kilnd = k;
	s->catch_up = strcmp(k->cfg->sched_catch_up, "none") != 0;
	s->timer = evtimer_new(k->base, sched_tick_cb, s);
	/* A first look at once: slots missed while kilnd was down. */
	event_active(s->timer, EV_TIMEOUT, 0);
	return s;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	event_free(s->timer);
	free(s);
}

/* ---- GET /api/v1/schedules ---- */

struct sched_list {
	struct evhttp_request	*req;
};

static void
sched_list_cb(PGresult *res, const char *error, void *arg)
{
	struct sched_list *l = arg;
	json_t *list = json_array(), *o;
	int64_t now = kiln_now(), next;
	struct cron c;
	char *text, why[100];
	int i;

	if (error != NULL) {
		http_reply_error(l->req, 500, "database error");
		json_decref(list);
		free(l);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		o = json_loads(PQgetvalue(res, i, 0), 0, NULL);
		if (o == NULL)
			continue;
		if (cron_parse(json_string_value(json_object_get(o, "cron")),
		    &c, why, sizeof why) == 0 && cron_next(&c, now, &next) == 0)
			json_object_set_new(o, "next_run_at", json_integer(next));
		else
			json_object_set_new(o, "next_run_at", json_null());
		json_array_append_new(list, o);
	}
	text = json_dumps(list, JSON_COMPACT);
	http_reply_json(l->req, 200, text);
	free(text);
	json_decref(list);
	free(l);
}

void
api_schedules_list(struct kilnd *k, struct evhttp_request *req,
    const char *const *args, int nargs)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(uri), *repo = NULL;
	struct evkeyvalq q;
	struct sched_list *l;
	const char *params[1];

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		http_reply_error(req, 400, "malformed query string");
		return;
	}
	repo = evhttp_find_header(&q, "repo");
	if (repo != NULL && !api_valid_repo_name(repo)) {
		http_reply_error(req, 400, "bad repo \"%.100s\"", repo);
		evhttp_clear_headers(&q);
		return;
	}
	params[0] = repo;
	l = xcalloc(1, sizeof *l);
	l->req = req;
	if (db_query(k->db, "SELECT json_build_object('id', s.id, "
	    "'repository', p.full_name, 'workflow', s.workflow_path, 'cron', "
	    "s.cron, 'head_sha', s.head_sha, 'last_slot', f.slot, "
	    "'last_event_id', f.event_id, 'last_run_id', (SELECT min(r.id) "
	    "FROM runs r WHERE r.event_id = f.event_id))::text "
	    "FROM schedules s JOIN repositories p ON p.id = s.repository_id "
	    "LEFT JOIN LATERAL (SELECT slot, event_id FROM schedule_fires x "
	    "WHERE x.schedule_id = s.id ORDER BY slot DESC LIMIT 1) f ON true "
	    "WHERE $1::text IS NULL OR p.full_name = $1 "
	    "ORDER BY p.full_name, s.workflow_path, s.cron", 1, params,
	    sched_list_cb, l) == -1) {
		http_reply_error(req, 503, "database queue is full; retry");
		free(l);
	}
	evhttp_clear_headers(&q);
}
