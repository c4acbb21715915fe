// SPDX-License-Identifier: GPL-2.0-or-later
/* The simulator's transaction log: one JSON object per line for every control transfer,
 * bus event and notable device decision, handed to the caller's callback.  The model
 * itself never opens or writes files. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "sim-internal.h"

/* Data longer than this is logged as its first bytes plus the full length. */
#define LOG_DATA_MAX 64

static const char *const state_names[] = {
	"appIDLE",	    "appDETACH",   "dfuIDLE",
	"dfuDNLOAD-SYNC",   "dfuDNBUSY",   "dfuDNLOAD-IDLE",
	"dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET",
	"dfuUPLOAD-IDLE",   "dfuERROR",
};

const char *sim_state_name(uint8_t state)
{
	return state < ARRAY_SIZE(state_names) ? state_names[state] : "?";
}

void sim_log_to_file(void *file, const char *json_line)
{
	FILE *f = file;

	if (!f)
		return;
	fputs(json_line, f);
	fputc('\n', f);
	fflush(f);
}

static uint64_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A bounded line buffer: appends never overflow, the line is cut instead. */
struct line {
	char buf[1024];
	size_t len;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = MIN(l->len + (size_t)n, sizeof(l->buf) - 1);
}

static void put_hex(struct line *l, const char *key, const uint8_t *p, size_t n)
{
	put(l, ",\"%s\":\"", key);
	for (size_t i = 0; i < MIN(n, (size_t)LOG_DATA_MAX); i++)
		put(l, "%02x", p[i]);
	put(l, "\"");
	if (n > LOG_DATA_MAX)
		put(l, ",\"%s_len\":%zu", key, n);
}

static void emit(struct sim_device *d, struct line *l)
{
	put(l, "}");
	d->log_fn(d->log_ctx, l->buf);
}

static const char *result_name(int r)
{
	switch (r) {
	case SIM_OK:
		return "ok";
	case SIM_STALL:
		return "stall";
	case SIM_TIMEOUT:
		return "timeout";
	case SIM_GONE:
		return "gone";
	case SIM_GONE_AFTER_DATA:
		return "gone-after-data";
	default:
		return "error";
	}
}

void sim_log_transfer(struct sim_device *d, const struct sim_transfer *t, uint64_t now, int result,
		      uint8_t state_before, uint8_t state_after, uint8_t status_after)
{
	const struct sim_setup *s = &t->setup;
	struct line l = { .len = 0 };

	if (!d->log_fn)
		return;
	put(&l, "{\"t_us\":%llu,\"real_us\":%llu,\"gen\":%llu", (unsigned long long)now,
	    (unsigned long long)real_us(), (unsigned long long)d->generation);
	put(&l, ",\"setup\":[%u,%u,%u,%u,%u]", s->bmRequestType, s->bRequest, s->wValue, s->wIndex,
	    s->wLength);
	if ((s->bmRequestType & 0x60) == 0x20)
		put(&l, ",\"req\":\"%s\"", sim_request_name(s->bRequest));
	if (!(s->bmRequestType & 0x80) && s->wLength && t->out_data)
		put_hex(&l, "data", t->out_data, s->wLength);
	put(&l, ",\"result\":\"%s\"", result_name(result));
	if ((s->bmRequestType & 0x80) && (result == SIM_OK || result == SIM_GONE_AFTER_DATA))
		put_hex(&l, "reply", t->in_buf, t->in_len);
	if (t->delay_us)
		put(&l, ",\"delay_us\":%llu", (unsigned long long)t->delay_us);
	put(&l, ",\"state_before\":\"%s\",\"state_after\":\"%s\",\"status_after\":%u",
	    sim_state_name(state_before), sim_state_name(state_after), status_after);
	emit(d, &l);
}

void sim_log_event(struct sim_device *d, const char *event, const char *detail, uint64_t now)
{
	struct line l = { .len = 0 };

	if (!d->log_fn)
		return;
	put(&l, "{\"t_us\":%llu,\"real_us\":%llu,\"gen\":%llu,\"event\":\"%s\"",
	    (unsigned long long)now, (unsigned long long)real_us(),
	    (unsigned long long)d->generation, event);
	if (detail)
		put(&l, ",\"detail\":\"%s\"", detail);
	emit(d, &l);
}

void sim_log_busy(struct sim_device *d, const char *what, uint64_t us, uint64_t now)
{
	struct line l = { .len = 0 };

	if (us == 0)
		return;
	d->busy_total_us += us;
	if (!d->log_fn)
		return;
	put(&l, "{\"t_us\":%llu,\"real_us\":%llu,\"gen\":%llu,\"event\":\"busy\"",
	    (unsigned long long)now, (unsigned long long)real_us(),
	    (unsigned long long)d->generation);
	put(&l, ",\"what\":\"%s\",\"busy_us\":%llu,\"busy_total_us\":%llu", what,
	    (unsigned long long)us, (unsigned long long)d->busy_total_us);
	emit(d, &l);
}

void sim_log_note(struct sim_device *d, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!d->log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* notes are plain ASCII built by the model, with no quotes or backslashes */
	sim_log_event(d, "note", msg, sim_now(d));
}
