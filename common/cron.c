/*
 * cron: parse GitHub schedule lines into bitmaps and find fire times.  See
 * cron.h for the accepted syntax.  The parser is a small table-driven loop
 * over the five fields; nothing here allocates.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"
#include "util.h"

struct cron_field {
	const char	*name;
	int		 min, max;
	const char	*const *names;	/* index + min = value, or NULL */
	size_t		 nnames;
};

static const char *const cron_months[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	"JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};

static const char *const cron_days[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT",
};

static const struct cron_field cron_fields[] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, 0 },
	{ "month", 1, 12, cron_months, nitems(cron_months) },
	{ "day-of-week", 0, 6, cron_days, nitems(cron_days) },
};

/* Read one value (number or name) at *sp; advances *sp. */
static int
cron_value(const struct cron_field *f, const char **sp, int *out)
{
	const char	*s = *sp;
	size_t		 i;
	int		 v = 0, digits = 0;

	if (isdigit((unsigned char)*s)) {
		while (isdigit((unsigned char)*s)) {
			if (++digits > 3)
				return -1;
			v = v * 10 + (*s++ - '0');
		}
		if (v < f->min || v > f->max)
			return -1;
		*out = v;
		*sp = s;
		return 0;
	}
	for (i = 0; i < f->nnames; i++) {
		if (strncasecmp(s, f->names[i], 3) == 0 &&
		    !isalpha((unsigned char)s[3])) {
			*out = f->min + (int)i;
			*sp = s + 3;
			return 0;
		}
	}
	return -1;
}

/* Parse one comma-separated field of length len into a bitmap. */
static int
cron_field_parse(const struct cron_field *f, const char *text, size_t len,
    uint64_t *bits, char *err, size_t errsz)
{
	char		 buf[64];
	const char	*s, *item;
	int		 lo, hi, step, v;

	if (len >= sizeof buf) {
		snprintf(err, errsz, "%s field is too long", f->name);
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	*bits = 0;
	s = buf;
	for (;;) {
		item = s;
		step = 1;
		if (*s == '*') {
			lo = f->min;
			hi = f->max;
			s++;
		} else {
			if (cron_value(f, &s, &lo) != 0)
				goto bad;
			hi = lo;
			if (*s == '-') {
				s++;
				if (cron_value(f, &s, &hi) != 0 || hi < lo)
					goto bad;
			} else if (*s == '/')
				hi = f->max;	/* "20/15" = 20-max/15 */
		}
		if (*s == '/') {
			s++;
			if (!isdigit((unsigned char)*s))
				goto bad;
			step = 0;
			while (isdigit((unsigned char)*s)) {
				step = step * 10 + (*s++ - '0');
				if (step > f->max + 1)
					goto bad;
			}
			if (step == 0)
				goto bad;
		}
		if (*s != ',' && *s != '\0')
			goto bad;
		for (v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << v;
		if (*s == '\0')
			return 0;
		s++;
	}
bad:
	{
		const char *end = strchr(item, ',');
		int n = end != NULL ? (int)(end - item) : (int)strlen(item);

		if (n == 0)
			snprintf(err, errsz, "empty item in %s field '%s'",
			    f->name, buf);
		else
			snprintf(err, errsz, "invalid %s '%.*s' (allowed: "
			    "%d-%d%s, '*', ranges a-b, lists a,b, steps /n)",
			    f->name, n, item, f->min, f->max,
			    f->names == NULL ? "" : (f == &cron_fields[3] ?
			    " or JAN-DEC" : " or SUN-SAT"));
	}
	return -1;
}

int
cron_parse(const char *text, struct cron *out, char *err, size_t errsz)
{
	char		 dummy[1];
	const char	*s = text, *start[5];
	size_t		 len[5], n = 0, i;
	uint64_t	 bits[5];

	if (err == NULL) {
		err = dummy;
		errsz = sizeof dummy;
	}
	memset(out, 0, sizeof *out);
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (n == 5) {
			snprintf(err, errsz, "cron '%s' has more than 5 fields "
			    "(minute hour day-of-month month day-of-week)",
			    text);
			return -1;
		}
		start[n] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		len[n] = (size_t)(s - start[n]);
		n++;
	}
	if (n > 0 && start[0][0] == '@') {
		snprintf(err, errsz, "cron '%s': '@' macros are not supported, "
		    "write the 5 fields", text);
		return -1;
	}
	if (n != 5) {
		snprintf(err, errsz, "cron '%s' has %zu field%s, want 5 "
		    "(minute hour day-of-month month day-of-week)", text, n,
		    n == 1 ? "" : "s");
		return -1;
	}
	for (i = 0; i < 5; i++) {
		if (cron_field_parse(&cron_fields[i], start[i], len[i],
		    &bits[i], err, errsz) != 0)
			return -1;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint32_t)bits[3];
	out->dow = (uint32_t)bits[4];
	out->dom_any = start[2][0] == '*';
	out->dow_any = start[4][0] == '*';
	return 0;
}

static int
cron_day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = (c->dom >> tm->tm_mday) & 1;
	int dow = (c->dow >> tm->tm_wday) & 1;

	if (c->dom_any || c->dow_any)
		return dom && dow;
	return dom || dow;
}

int
cron_matches(const struct cron *c, int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL)
		return 0;
	return ((c->month >> (tm.tm_mon + 1)) & 1) &&
	    cron_day_matches(c, &tm) &&
	    ((c->hour >> tm.tm_hour) & 1) &&
	    ((c->minute >> tm.tm_min) & 1);
}

int
cron_next(const struct cron *c, int64_t after, int64_t *next)
{
	struct tm	tm;
	time_t		t;
	int		guard;

	t = (time_t)(after - (after % 60 + 60) % 60 + 60);
	for (guard = 0; guard < 200000; guard++) {
		if (gmtime_r(&t, &tm) == NULL)
			return -1;
		if (tm.tm_year > 10000)
			return -1;
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!cron_day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->minute >> tm.tm_min) & 1)) {
			tm.tm_min++;
			tm.tm_sec = 0;
		} else {
			*next = (int64_t)t;
			return 0;
		}
		t = timegm(&tm);
		if (t == (time_t)-1)
			return -1;
		if ((int64_t)t - after > (int64_t)6 * 366 * 86400)
			return -1;
	}
	return -1;
}
