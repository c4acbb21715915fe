// SPDX-License-Identifier: GPL-2.0-or-later
/* Settings and fault injection: turns a profile plus the comma-separated token list of
 * sim_options.faults (documented in sim-api.h) into the device's effective
 * configuration.  Unknown tokens are refused by name. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
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
	c->app_gone = p->app_gone;
	c->reenum_us = 100000; /* a re-enumeration takes about 100 ms (a guess) */
	/* a refused program on F0/F1/F3 and ECC families: no public log shows the ROM's
	 * bStatus, so errTARGET, its code for a refused address, is a guess */
	c->prog_fail_status = SIM_ERR_TARGET;
	c->rdp = -1;
	c->stall_req = -1;
	c->timeout_req = -1;
	c->status_req = -1;
	c->busy_factor = 1.0;
	c->replug_us = 1000000; /* a person replugging the cable: about a second */
	c->short_status = -1;
	c->bad_state = -1;
}

static int fail(char *errbuf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

/* ---- token values ----------------------------------------------------------------------
 * Each setter parses the value of one token (NULL when the token has no '=') into the
 * configuration and returns 0, or -ERANGE for a missing, superfluous or bad value. */

static const char *const busy_names[] = { "nak", "stall", "repeat", "strict", NULL };
static const char *const clr_names[] = { "st", "strict", "lenient", NULL };
static const char *const leave_names[] = { "answer-then-vanish",   "vanish-during-status",
					   "vanish-before-status", "stay",
					   "needs-set-address",	   NULL };
static const char *const jump_names[] = { "vector-table", "entry-point", "system-reset", NULL };
static const char *const oversize_names[] = { "stall", "truncate", NULL };
static const char *const langid_names[] = { "", "empty", "stall", "fail-first", NULL };
static const char *const state_names[] = { "dnload-idle", "upload-idle", "dnbusy", NULL };
static const uint8_t state_values[] = { SIM_DFU_DNLOAD_IDLE, SIM_DFU_UPLOAD_IDLE, SIM_DFU_DNBUSY };

static bool has_value(const char *v)
{
	return v && *v;
}

/* @v among @names (see pick()); -1 for no value or an unknown one. */
static int pick_value(const char *v, const char *const *names)
{
	return v ? pick(v, names) : -1;
}

/* "N": fail the Nth request (N >= 1). */
static int parse_count(const char *v, uint64_t *out)
{
	uint64_t n;

	if (!has_value(v) || util_parse_u64(v, UINT32_MAX, &n) < 0 || n == 0)
		return -ERANGE;
	*out = n;
	return 0;
}

/* A bStatus value 1..15 (errTARGET..errSTALLEDPKT, DFU 1.1 §6.1.2). */
static int parse_status(const char *v, uint8_t *out)
{
	uint32_t x;

	if (parse_u32(v, 15, &x) < 0 || !x)
		return -ERANGE;
	*out = (uint8_t)x;
	return 0;
}

static int set_stall_on(struct sim_config *c, const char *v)
{
	return parse_count(v, &c->stall_on);
}

static int set_timeout_on(struct sim_config *c, const char *v)
{
	return parse_count(v, &c->timeout_on);
}

static int set_stall_on_request(struct sim_config *c, const char *v)
{
	if (!has_value(v) || parse_request(v, &c->stall_req, &c->stall_req_k) < 0)
		return -ERANGE;
	return 0;
}

static int set_timeout_on_request(struct sim_config *c, const char *v)
{
	if (!has_value(v) || parse_request(v, &c->timeout_req, &c->timeout_req_k) < 0)
		return -ERANGE;
	return 0;
}

/* NAME[:K]=STATUS: the value holds the second '=' */
static int set_status_on_request(struct sim_config *c, const char *v)
{
	char req[32];
	const char *eq = v ? strrchr(v, '=') : NULL;
	uint32_t x = 0;

	if (!eq || eq == v || (size_t)(eq - v) >= sizeof(req) || parse_u32(eq + 1, 15, &x) < 0 ||
	    !x)
		return -ERANGE;
	snprintf(req, sizeof(req), "%.*s", (int)(eq - v), v);
	if (parse_request(req, &c->status_req, &c->status_req_k) < 0)
		return -ERANGE;
	c->status_req_status = (uint8_t)x;
	return 0;
}

static int set_disconnect_at_byte(struct sim_config *c, const char *v)
{
	if (!has_value(v) || util_parse_u64(v, UINT32_MAX, &c->disconnect_at_byte) < 0)
		return -ERANGE;
	c->disconnect_at_byte_set = true;
	return 0;
}

static int set_busy_longer(struct sim_config *c, const char *v)
{
	char *end;
	double f;

	c->busy_factor = 10.0;
	if (!v)
		return 0;
	f = strtod(v, &end);
	if (*end || !(f >= 1.0 && f <= 1e6))
		return -ERANGE;
	c->busy_factor = f;
	return 0;
}

/* every busy reply announces this bwPollTimeout (24 bits on the wire) */
static int set_poll_timeout(struct sim_config *c, const char *v)
{
	if (!v || parse_u32(v, 0xffffff, &c->announce_ms) < 0 || c->announce_ms == 0)
		return -ERANGE;
	return 0;
}

static int set_stuck_dnbusy(struct sim_config *c, const char *v)
{
	c->stuck = true;
	c->stuck_from = 0;
	if (v && parse_u32(v, UINT32_MAX, &c->stuck_from) < 0)
		return -ERANGE;
	return 0;
}

static int set_busy(struct sim_config *c, const char *v)
{
	int i = pick_value(v, busy_names);

	if (i < 0)
		return -ERANGE;
	c->busy = (enum sim_busy_mode)i;
	return 0;
}

/* ADDR[:STATUS]; no status: the profile's default */
static int set_faulty_page(struct sim_config *c, const char *v)
{
	char addr[32];
	const char *colon;
	uint32_t x = 0, st = 0;

	if (!has_value(v) || c->n_faulty == SIM_MAX_FAULTY)
		return -ERANGE;
	colon = strchr(v, ':');
	snprintf(addr, sizeof(addr), "%.*s", colon ? (int)(colon - v) : (int)strlen(v), v);
	if (parse_u32(addr, UINT32_MAX, &x) < 0 ||
	    (colon && (parse_u32(colon + 1, 15, &st) < 0 || !st)))
		return -ERANGE;
	c->faulty[c->n_faulty] = x;
	c->faulty_status[c->n_faulty++] = (uint8_t)st; /* 0: the profile's default */
	return 0;
}

static int set_wrp(struct sim_config *c, const char *v)
{
	uint32_t x;

	if (c->n_wrp == SIM_MAX_WRP || parse_u32(v, UINT32_MAX, &x) < 0)
		return -ERANGE;
	c->wrp[c->n_wrp++] = x;
	return 0;
}

static int set_rdp(struct sim_config *c, const char *v)
{
	uint32_t x;

	if (parse_u32(v, 2, &x) < 0)
		return -ERANGE;
	c->rdp = (int)x;
	return 0;
}

static int set_set_address_rdp(struct sim_config *c, const char *v)
{
	if (!v || (strcmp(v, "fail") && strcmp(v, "ok")))
		return -ERANGE;
	c->set_address_rdp_fails = strcmp(v, "fail") == 0;
	return 0;
}

static int set_prog_fail_status(struct sim_config *c, const char *v)
{
	return parse_status(v, &c->prog_fail_status);
}

static int set_block_size(struct sim_config *c, const char *v)
{
	if (!v || (strcmp(v, "descriptor") && strcmp(v, "wlength")))
		return -ERANGE;
	c->block_size_wlength = strcmp(v, "wlength") == 0;
	return 0;
}

static int set_start_in_error(struct sim_config *c, const char *v)
{
	return parse_status(v, &c->start_error);
}

static int set_start_in_state(struct sim_config *c, const char *v)
{
	int i = pick_value(v, state_names);

	if (i < 0)
		return -ERANGE;
	c->start_state = state_values[i];
	return 0;
}

static int set_clrstatus(struct sim_config *c, const char *v)
{
	int i = pick_value(v, clr_names);

	if (i < 0)
		return -ERANGE;
	c->clr = (enum sim_clr_mode)i;
	return 0;
}

static int set_no_langid(struct sim_config *c, const char *v)
{
	int i = pick(v ? v : "", langid_names);

	if (i < 0)
		return -ERANGE;
	c->langid = i == 0 ? SIM_LANGID_EMPTY : (enum sim_langid_fault)i;
	return 0;
}

static int set_serial(struct sim_config *c, const char *v)
{
	if (!has_value(v) || strlen(v) > SIM_SERIAL_MAX)
		return -ERANGE;
	for (const char *s = v; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return -ERANGE;
	snprintf(c->serial, sizeof(c->serial), "%s", v);
	return 0;
}

static int set_transfer_size(struct sim_config *c, const char *v)
{
	uint32_t x;

	if (parse_u32(v, 0xFFFF, &x) < 0)
		return -ERANGE;
	c->fd_transfer_size = (uint16_t)x;
	/* 0 and 0xFFFF are descriptor bugs; the device keeps its real buffer */
	if (x != 0 && x != 0xFFFF)
		c->block_size = (uint16_t)x;
	return 0;
}

static int set_oversize_wlength(struct sim_config *c, const char *v)
{
	int i = pick_value(v, oversize_names);

	if (i < 0)
		return -ERANGE;
	c->oversize = (enum sim_oversize)i;
	return 0;
}

static int set_functional_descriptor(struct sim_config *c, const char *v)
{
	uint32_t x;

	if (parse_u32(v, 9, &x) < 0 || (x != 7 && x != 9))
		return -ERANGE;
	c->fd_length = (uint8_t)x;
	return 0;
}

static int set_leave(struct sim_config *c, const char *v)
{
	int i = pick_value(v, leave_names);

	if (i < 0)
		return -ERANGE;
	c->leave = (enum sim_leave)i;
	return 0;
}

static int set_jump(struct sim_config *c, const char *v)
{
	int i = pick_value(v, jump_names);

	if (i < 0)
		return -ERANGE;
	c->jump = (enum sim_jump)i;
	return 0;
}

static int set_app(struct sim_config *c, const char *v)
{
	if (!v || (strcmp(v, "runtime") && strcmp(v, "gone")))
		return -ERANGE;
	c->app_gone = strcmp(v, "gone") == 0;
	return 0;
}

static int set_boot0(struct sim_config *c, const char *v)
{
	if (!v || parse_bool(v, &c->boot0) < 0)
		return -ERANGE;
	return 0;
}

static int set_reenum_delay_ms(struct sim_config *c, const char *v)
{
	uint32_t x;

	if (parse_u32(v, 600000, &x) < 0)
		return -ERANGE;
	c->reenum_us = x * 1000u;
	return 0;
}

/* An on/off bmAttributes @bit, in DFU mode and at run time alike. */
static int set_attribute_bit(struct sim_config *c, const char *v, uint8_t bit)
{
	bool on;

	if (!v || parse_bool(v, &on) < 0)
		return -ERANGE;
	c->fd_attributes = (uint8_t)(on ? c->fd_attributes | bit : c->fd_attributes & ~bit);
	c->app_fd_attributes =
	    (uint8_t)(on ? c->app_fd_attributes | bit : c->app_fd_attributes & ~bit);
	return 0;
}

/* bitManifestationTolerant, DFU 1.1 §4.1.3 */
static int set_manifest_tolerant(struct sim_config *c, const char *v)
{
	return set_attribute_bit(c, v, 0x04);
}

/* bitWillDetach, DFU 1.1 §4.1.3 */
static int set_will_detach(struct sim_config *c, const char *v)
{
	return set_attribute_bit(c, v, 0x08);
}

/* "K", or nothing for 1: the K-th occurrence (K >= 1). */
static int parse_occurrence(const char *v, uint32_t *out)
{
	uint32_t k = 1;

	if (v && (parse_u32(v, UINT32_MAX, &k) < 0 || k == 0))
		return -ERANGE;
	*out = k;
	return 0;
}

static int set_disconnect_on_erase(struct sim_config *c, const char *v)
{
	return parse_occurrence(v, &c->disconnect_erase_k);
}

static int set_disconnect_on_upload(struct sim_config *c, const char *v)
{
	return parse_occurrence(v, &c->disconnect_upload_k);
}

static int set_replug(struct sim_config *c, const char *v)
{
	uint32_t ms = c->replug_us / 1000;

	if (v && parse_u32(v, 600000, &ms) < 0)
		return -ERANGE;
	c->replug = true;
	c->replug_us = ms * 1000u;
	return 0;
}

static int set_replug_serial(struct sim_config *c, const char *v)
{
	struct sim_config probe;

	/* the same rules as serial= */
	if (set_serial(&probe, v) < 0)
		return -ERANGE;
	snprintf(c->replug_serial, sizeof(c->replug_serial), "%s", v);
	c->replug = true;
	return 0;
}

/* "V" or "V:K": a value up to @max, and which GET_STATUS (0: every one). */
static int parse_value_at(const char *v, uint32_t min, uint32_t max, int *value, uint64_t *k)
{
	char num[32];
	const char *colon;
	uint32_t x;

	if (!has_value(v))
		return -ERANGE;
	colon = strchr(v, ':');
	snprintf(num, sizeof(num), "%.*s", colon ? (int)(colon - v) : (int)strlen(v), v);
	if (parse_u32(num, max, &x) < 0 || x < min)
		return -ERANGE;
	*k = 0;
	if (colon && parse_count(colon + 1, k) < 0)
		return -ERANGE;
	*value = (int)x;
	return 0;
}

static int set_short_status(struct sim_config *c, const char *v)
{
	return parse_value_at(v, 0, 5, &c->short_status, &c->short_status_k);
}

/* bState beyond dfuERROR (10): DFU 1.1 §6.1.2 defines no such state */
static int set_bad_state(struct sim_config *c, const char *v)
{
	return parse_value_at(v, 11, 255, &c->bad_state, &c->bad_state_k);
}

static int set_slow(struct sim_config *c, const char *v)
{
	uint32_t ms;

	if (parse_u32(v, 600000, &ms) < 0)
		return -ERANGE;
	c->slow_us = ms * 1000u;
	return 0;
}

/* ---- token dispatch --------------------------------------------------------------------- */

/* Tokens that take no value and switch one bool on. */
static const struct {
	const char *key;
	size_t offset; /* of the bool in struct sim_config */
} flag_tokens[] = {
	{ "zero-poll-timeout", offsetof(struct sim_config, zero_poll) },
	{ "skip-dnbusy", offsetof(struct sim_config, skip_dnbusy) },
	{ "unprotect-fails", offsetof(struct sim_config, unprotect_fails) },
	{ "fail-every-second-run", offsetof(struct sim_config, fail_every_second_run) },
	{ "wrong-langid", offsetof(struct sim_config, wrong_langid) },
	{ "bad-strings", offsetof(struct sim_config, bad_strings) },
	{ "identical-alt-names", offsetof(struct sim_config, identical_alt_names) },
	{ "disconnect-on-manifest", offsetof(struct sim_config, disconnect_manifest) },
};

/* Tokens whose value a setter parses. */
static const struct {
	const char *key;
	int (*set)(struct sim_config *c, const char *v);
} value_tokens[] = {
	{ "stall-on", set_stall_on },
	{ "timeout-on", set_timeout_on },
	{ "stall-on-request", set_stall_on_request },
	{ "timeout-on-request", set_timeout_on_request },
	{ "status-on-request", set_status_on_request },
	{ "disconnect-at-byte", set_disconnect_at_byte },
	{ "busy-longer", set_busy_longer },
	{ "poll-timeout", set_poll_timeout },
	{ "stuck-dnbusy", set_stuck_dnbusy },
	{ "busy", set_busy },
	{ "faulty-page", set_faulty_page },
	{ "wrp", set_wrp },
	{ "rdp", set_rdp },
	{ "set-address-rdp", set_set_address_rdp },
	{ "prog-fail-status", set_prog_fail_status },
	{ "block-size", set_block_size },
	{ "start-in-error", set_start_in_error },
	{ "start-in-state", set_start_in_state },
	{ "clrstatus", set_clrstatus },
	{ "no-langid", set_no_langid },
	{ "serial", set_serial },
	{ "transfer-size", set_transfer_size },
	{ "oversize-wlength", set_oversize_wlength },
	{ "functional-descriptor", set_functional_descriptor },
	{ "leave", set_leave },
	{ "jump", set_jump },
	{ "app", set_app },
	{ "boot0", set_boot0 },
	{ "reenum-delay-ms", set_reenum_delay_ms },
	{ "manifest-tolerant", set_manifest_tolerant },
	{ "will-detach", set_will_detach },
	{ "disconnect-on-erase", set_disconnect_on_erase },
	{ "disconnect-on-upload", set_disconnect_on_upload },
	{ "replug", set_replug },
	{ "replug-serial", set_replug_serial },
	{ "short-status", set_short_status },
	{ "bad-state", set_bad_state },
	{ "slow", set_slow },
};

/* Apply one token; -EINVAL for an unknown name, -ERANGE for a bad value. */
static int apply_token(struct sim_config *c, const char *key, const char *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_tokens); i++) {
		if (strcmp(key, flag_tokens[i].key) == 0) {
			if (v)
				return -ERANGE;
			*(bool *)((char *)c + flag_tokens[i].offset) = true;
			return 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(value_tokens); i++)
		if (strcmp(key, value_tokens[i].key) == 0)
			return value_tokens[i].set(c, v);
	return -EINVAL;
}

int sim_config_init(struct sim_config *c, const struct sim_profile *p, const char *faults,
		    char *errbuf, size_t errbuf_size)
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
