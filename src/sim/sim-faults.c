// SPDX-License-Identifier: GPL-2.0-or-later
/* Settings and fault injection: turns a profile plus the comma-separated token list of
 * sim_options.faults (documented in sim-api.h) into the device's effective
 * configuration.  Unknown tokens are refused by name. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "sim-internal.h"
#include "util.h"

static void fill_defaults(struct sim_config *c, const struct sim_profile *p)
{
	memset(c, 0, sizeof(*c));
	c->busy = p->busy;
	c->clr = p->clr;
	c->leave = p->leave;
	c->jump = p->jump;
	c->oversize = p->oversize;
	c->skip_dnbusy = p->skip_dnbusy;
	c->set_address_rdp_fails = p->set_address_rdp_fails;
	c->fd_transfer_size = p->transfer_size;
	c->block_size = p->transfer_size;
	c->fd_length = p->fd_length;
	c->fd_attributes = p->fd_attributes;
	c->app_fd_attributes = p->app_fd_attributes;
	c->start_error = p->initial_state == SIM_DFU_ERROR ? p->initial_status : 0;
	c->start_state = -1;
	c->boot0 = true;
	c->reenum_us = 100000; /* [inf] a re-enumeration takes about 100 ms */
	/* §1.10: a refused program on F0/F1/F3 and ECC families, errTARGET suggested [inf] */
	c->prog_fail_status = SIM_ERR_TARGET;
	c->rdp = -1;
	c->stall_req = -1;
	c->timeout_req = -1;
	c->status_req = -1;
	c->busy_factor = 1.0;
}

static int fail(char *errbuf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *errbuf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && size) {
		va_start(ap, fmt);
		vsnprintf(errbuf, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *const request_names[SIM_REQ_COUNT] = {
	"DETACH", "DNLOAD", "UPLOAD", "GETSTATUS", "CLRSTATUS", "GETSTATE", "ABORT",
};

const char *sim_request_name(uint8_t request)
{
	return request < SIM_REQ_COUNT ? request_names[request] : "?";
}

/* "NAME" or "NAME:K" → request and occurrence. */
static int parse_request(const char *v, int *req, uint64_t *k)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);

	*k = 1;
	if (colon && (util_parse_u64(colon + 1, UINT32_MAX, k) < 0 || *k == 0))
		return -EINVAL;
	for (int i = 0; i < SIM_REQ_COUNT; i++) {
		if (strlen(request_names[i]) == n && strncasecmp(v, request_names[i], n) == 0) {
			*req = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Pick @v among @names; returns the index or -1. */
static int pick(const char *v, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

static int parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (!v || util_parse_u64(v, max, &x) < 0)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

/* Apply one token; -EINVAL for an unknown name, -ERANGE for a bad value. */
static int apply_token(struct sim_config *c, const char *key, const char *v)
{
	static const char *const busy_names[] = { "nak", "stall", "repeat", "strict", NULL };
	static const char *const clr_names[] = { "st", "strict", "lenient", NULL };
	static const char *const leave_names[] = { "answer-then-vanish", "vanish-during-status",
						   "vanish-before-status", "stay", "needs-set-address", NULL };
	static const char *const jump_names[] = { "vector-table", "entry-point", "system-reset", NULL };
	static const char *const oversize_names[] = { "stall", "truncate", NULL };
	static const char *const langid_names[] = { "", "empty", "stall", "fail-first", NULL };
	static const char *const state_names[] = { "dnload-idle", "upload-idle", "dnbusy", NULL };
	static const uint8_t state_values[] = { SIM_DFU_DNLOAD_IDLE, SIM_DFU_UPLOAD_IDLE, SIM_DFU_DNBUSY };
	uint32_t x = 0;
	int i;

#define NEED_VALUE()                 \
	do {                         \
		if (!v || !*v)       \
			return -ERANGE; \
	} while (0)
#define NO_VALUE()              \
	do {                    \
		if (v)          \
			return -ERANGE; \
	} while (0)

	if (strcmp(key, "stall-on") == 0 || strcmp(key, "timeout-on") == 0) {
		uint64_t n;

		NEED_VALUE();
		if (util_parse_u64(v, UINT32_MAX, &n) < 0 || n == 0)
			return -ERANGE;
		*(key[0] == 's' ? &c->stall_on : &c->timeout_on) = n;
	} else if (strcmp(key, "stall-on-request") == 0) {
		NEED_VALUE();
		if (parse_request(v, &c->stall_req, &c->stall_req_k) < 0)
			return -ERANGE;
	} else if (strcmp(key, "timeout-on-request") == 0) {
		NEED_VALUE();
		if (parse_request(v, &c->timeout_req, &c->timeout_req_k) < 0)
			return -ERANGE;
	} else if (strcmp(key, "status-on-request") == 0) {
		/* NAME[:K]=STATUS: the value holds the second '=' */
		char req[32];
		const char *eq = v ? strrchr(v, '=') : NULL;

		if (!eq || eq == v || (size_t)(eq - v) >= sizeof(req) || parse_u32(eq + 1, 15, &x) < 0 || !x)
			return -ERANGE;
		snprintf(req, sizeof(req), "%.*s", (int)(eq - v), v);
		if (parse_request(req, &c->status_req, &c->status_req_k) < 0)
			return -ERANGE;
		c->status_req_status = (uint8_t)x;
	} else if (strcmp(key, "disconnect-at-byte") == 0) {
		NEED_VALUE();
		if (util_parse_u64(v, UINT32_MAX, &c->disconnect_at_byte) < 0)
			return -ERANGE;
		c->disconnect_at_byte_set = true;
	} else if (strcmp(key, "busy-longer") == 0) {
		c->busy_factor = 10.0;
		if (v) {
			char *end;
			double f = strtod(v, &end);

			if (*end || !(f >= 1.0 && f <= 1e6))
				return -ERANGE;
			c->busy_factor = f;
		}
	} else if (strcmp(key, "zero-poll-timeout") == 0) {
		NO_VALUE();
		c->zero_poll = true;
	} else if (strcmp(key, "stuck-dnbusy") == 0) {
		c->stuck = true;
		c->stuck_from = 0;
		if (v && parse_u32(v, UINT32_MAX, &c->stuck_from) < 0)
			return -ERANGE;
	} else if (strcmp(key, "busy") == 0) {
		if (!v || (i = pick(v, busy_names)) < 0)
			return -ERANGE;
		c->busy = (enum sim_busy_mode)i;
	} else if (strcmp(key, "skip-dnbusy") == 0) {
		NO_VALUE();
		c->skip_dnbusy = true;
	} else if (strcmp(key, "faulty-page") == 0) {
		char addr[32];
		const char *colon;
		uint32_t st = 0;

		NEED_VALUE();
		if (c->n_faulty == SIM_MAX_FAULTY)
			return -ERANGE;
		colon = strchr(v, ':');
		snprintf(addr, sizeof(addr), "%.*s", colon ? (int)(colon - v) : (int)strlen(v), v);
		if (parse_u32(addr, UINT32_MAX, &x) < 0 || (colon && (parse_u32(colon + 1, 15, &st) < 0 || !st)))
			return -ERANGE;
		c->faulty[c->n_faulty] = x;
		c->faulty_status[c->n_faulty++] = (uint8_t)st; /* 0: the profile's default */
	} else if (strcmp(key, "wrp") == 0) {
		if (c->n_wrp == SIM_MAX_WRP || parse_u32(v, UINT32_MAX, &x) < 0)
			return -ERANGE;
		c->wrp[c->n_wrp++] = x;
	} else if (strcmp(key, "rdp") == 0) {
		if (parse_u32(v, 2, &x) < 0)
			return -ERANGE;
		c->rdp = (int)x;
	} else if (strcmp(key, "set-address-rdp") == 0) {
		if (!v || (strcmp(v, "fail") && strcmp(v, "ok")))
			return -ERANGE;
		c->set_address_rdp_fails = strcmp(v, "fail") == 0;
	} else if (strcmp(key, "unprotect-fails") == 0) {
		NO_VALUE();
		c->unprotect_fails = true;
	} else if (strcmp(key, "prog-fail-status") == 0) {
		if (parse_u32(v, 15, &x) < 0 || !x)
			return -ERANGE;
		c->prog_fail_status = (uint8_t)x;
	} else if (strcmp(key, "block-size") == 0) {
		if (!v || (strcmp(v, "descriptor") && strcmp(v, "wlength")))
			return -ERANGE;
		c->block_size_wlength = strcmp(v, "wlength") == 0;
	} else if (strcmp(key, "start-in-error") == 0) {
		if (parse_u32(v, 15, &x) < 0 || !x)
			return -ERANGE;
		c->start_error = (uint8_t)x;
	} else if (strcmp(key, "start-in-state") == 0) {
		if (!v || (i = pick(v, state_names)) < 0)
			return -ERANGE;
		c->start_state = state_values[i];
	} else if (strcmp(key, "fail-every-second-run") == 0) {
		NO_VALUE();
		c->fail_every_second_run = true;
	} else if (strcmp(key, "clrstatus") == 0) {
		if (!v || (i = pick(v, clr_names)) < 0)
			return -ERANGE;
		c->clr = (enum sim_clr_mode)i;
	} else if (strcmp(key, "no-langid") == 0) {
		if ((i = pick(v ? v : "", langid_names)) < 0)
			return -ERANGE;
		c->langid = i == 0 ? SIM_LANGID_EMPTY : (enum sim_langid_fault)i;
	} else if (strcmp(key, "wrong-langid") == 0) {
		NO_VALUE();
		c->wrong_langid = true;
	} else if (strcmp(key, "bad-strings") == 0) {
		NO_VALUE();
		c->bad_strings = true;
	} else if (strcmp(key, "identical-alt-names") == 0) {
		NO_VALUE();
		c->identical_alt_names = true;
	} else if (strcmp(key, "serial") == 0) {
		NEED_VALUE();
		if (strlen(v) > SIM_SERIAL_MAX)
			return -ERANGE;
		for (const char *s = v; *s; s++)
			if (*s < 0x21 || *s > 0x7e)
				return -ERANGE;
		snprintf(c->serial, sizeof(c->serial), "%s", v);
	} else if (strcmp(key, "transfer-size") == 0) {
		if (parse_u32(v, 0xFFFF, &x) < 0)
			return -ERANGE;
		c->fd_transfer_size = (uint16_t)x;
		/* 0 and 0xFFFF are descriptor bugs; the device keeps its real buffer */
		if (x != 0 && x != 0xFFFF)
			c->block_size = (uint16_t)x;
	} else if (strcmp(key, "oversize-wlength") == 0) {
		if (!v || (i = pick(v, oversize_names)) < 0)
			return -ERANGE;
		c->oversize = (enum sim_oversize)i;
	} else if (strcmp(key, "functional-descriptor") == 0) {
		if (parse_u32(v, 9, &x) < 0 || (x != 7 && x != 9))
			return -ERANGE;
		c->fd_length = (uint8_t)x;
	} else if (strcmp(key, "leave") == 0) {
		if (!v || (i = pick(v, leave_names)) < 0)
			return -ERANGE;
		c->leave = (enum sim_leave)i;
	} else if (strcmp(key, "jump") == 0) {
		if (!v || (i = pick(v, jump_names)) < 0)
			return -ERANGE;
		c->jump = (enum sim_jump)i;
	} else if (strcmp(key, "app") == 0) {
		if (!v || (strcmp(v, "runtime") && strcmp(v, "gone")))
			return -ERANGE;
		c->app_gone = strcmp(v, "gone") == 0;
	} else if (strcmp(key, "boot0") == 0) {
		if (!v || parse_bool(v, &c->boot0) < 0)
			return -ERANGE;
	} else if (strcmp(key, "reenum-delay-ms") == 0) {
		if (parse_u32(v, 600000, &x) < 0)
			return -ERANGE;
		c->reenum_us = x * 1000u;
	} else if (strcmp(key, "manifest-tolerant") == 0 || strcmp(key, "will-detach") == 0) {
		bool on;
		uint8_t bit = key[0] == 'm' ? 0x04 : 0x08;

		if (!v || parse_bool(v, &on) < 0)
			return -ERANGE;
		c->fd_attributes = (uint8_t)(on ? c->fd_attributes | bit : c->fd_attributes & ~bit);
		c->app_fd_attributes = (uint8_t)(on ? c->app_fd_attributes | bit : c->app_fd_attributes & ~bit);
	} else {
		return -EINVAL;
	}
	return 0;
#undef NEED_VALUE
#undef NO_VALUE
}

int sim_config_init(struct sim_config *c, const struct sim_profile *p, const char *faults, char *errbuf,
		    size_t errbuf_size)
{
	const char *s = faults;

	fill_defaults(c, p);
	while (s && *s) {
		char tok[160], *eq; /* serial=TEXT: up to 7 + SIM_SERIAL_MAX */
		size_t n = strcspn(s, ", \t");
		int r;

		if (n == 0) {
			s++;
			continue;
		}
		if (n >= sizeof(tok))
			return fail(errbuf, errbuf_size, "fault token too long: '%.*s...'", 32, s);
		memcpy(tok, s, n);
		tok[n] = '\0';
		s += n;
		eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		r = apply_token(c, tok, eq ? eq + 1 : NULL);
		if (eq)
			*eq = '=';
		if (r == -EINVAL)
			return fail(errbuf, errbuf_size, "unknown fault or setting '%s'", tok);
		if (r < 0)
			return fail(errbuf, errbuf_size, "bad value in fault '%s'", tok);
	}
	return 0;
}

int sim_faults_check(const char *faults, char *errbuf, size_t errbuf_size)
{
	struct sim_config c;

	return sim_config_init(&c, sim_profile_find("stm32f405"), faults, errbuf, errbuf_size);
}
