/*
 * dispatch: see dispatch.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "util.h"

static const struct wf_input *
dispatch_input(const struct workflow *wf, const char *name)
{
	size_t i;

	for (i = 0; i < wf->on.ninputs; i++)
		if (strcmp(wf->on.inputs[i].name, name) == 0)
			return &wf->on.inputs[i];
	return NULL;
}

/* The value as text ("true", "3", "lstm"); NULL for other JSON types. */
static const char *
dispatch_text(const json_t *v, char *buf, size_t bufsz)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (json_is_integer(v)) {
		snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, bufsz, "%.17g", json_real_value(v));
		return buf;
	}
	return NULL;
}

static int
dispatch_check_one(const struct wf_input *def, const char *text, char *err,
    size_t errsz)
{
	char *end;
	double d;
	size_t i;

	switch (def->type) {
	case WF_INPUT_BOOLEAN:
		if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
			snprintf(err, errsz, "input '%s' is a boolean: \"%.64s\" "
			    "is neither true nor false", def->name, text);
			return -1;
		}
		break;
	case WF_INPUT_NUMBER:
		d = strtod(text, &end);
		if (*text == '\0' || *end != '\0' || !isfinite(d)) {
			snprintf(err, errsz, "input '%s' is a number: \"%.64s\" "
			    "is not one", def->name, text);
			return -1;
		}
		break;
	case WF_INPUT_CHOICE:
		for (i = 0; i < def->options.n; i++)
			if (strcmp(def->options.v[i], text) == 0)
				break;
		if (i == def->options.n) {
			struct buf b = { 0 };

			for (i = 0; i < def->options.n; i++)
				buf_printf(&b, "%s%s", i ? ", " : "",
				    def->options.v[i]);
			snprintf(err, errsz, "input '%s': \"%.64s\" is not one "
			    "of its options (%s)", def->name, text,
			    b.data ? b.data : "none");
			buf_free(&b);
			return -1;
		}
		break;
	case WF_INPUT_STRING:
	case WF_INPUT_ENVIRONMENT:
		break;
	}
	return 0;
}

int
dispatch_check(const struct workflow *wf, const json_t *inputs, char *err,
    size_t errsz)
{
	const struct wf_input *def;
	const char *name, *text;
	char num[64];
	json_t *v;
	size_t i;

	if (!wf->on.workflow_dispatch) {
		snprintf(err, errsz, "%s does not declare on.workflow_dispatch, "
		    "so it cannot be run by hand", wf->path);
		return -1;
	}
	if (inputs != NULL && !json_is_object(inputs)) {
		snprintf(err, errsz, "inputs must be an object of name: value");
		return -1;
	}
	if (json_object_size(inputs) > DISPATCH_MAX_INPUTS) {
		snprintf(err, errsz, "%zu inputs given; at most %d",
		    json_object_size(inputs), DISPATCH_MAX_INPUTS);
		return -1;
	}
	json_object_foreach((json_t *)inputs, name, v) {
		if ((def = dispatch_input(wf, name)) == NULL) {
			snprintf(err, errsz, "unexpected input '%.100s': %s "
			    "declares no such input", name, wf->path);
			return -1;
		}
		if (json_is_null(v))
			continue;	/* not given */
		if ((text = dispatch_text(v, num, sizeof num)) == NULL) {
			snprintf(err, errsz, "input '%s' must be a string, "
			    "boolean or number", name);
			return -1;
		}
		if (strlen(text) > DISPATCH_MAX_VALUE) {
			snprintf(err, errsz, "input '%s' is longer than %d "
			    "bytes", name, DISPATCH_MAX_VALUE);
			return -1;
		}
		if (dispatch_check_one(def, text, err, errsz) == -1)
			return -1;
	}
	for (i = 0; i < wf->on.ninputs; i++) {
		def = &wf->on.inputs[i];
		v = json_object_get(inputs, def->name);
		if (def->required && (v == NULL || json_is_null(v)) &&
		    def->def == NULL && def->def_json == NULL) {
			snprintf(err, errsz, "required input '%s' was not "
			    "given (and has no default)", def->name);
			return -1;
		}
	}
	return 0;
}
