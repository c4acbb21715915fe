// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The context: the backend it owns, the log, progress and trace callbacks,
 * and the clock every wait goes through.  Also the trace record of each control
 * request and the retry log of a flash result.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "proto.h"

int dfu_ctx_new(struct dfu_backend *backend, struct dfu_ctx **out)
{
	struct dfu_ctx *ctx;

	if (!out)
		return DFU_E_INVAL;
	*out = NULL;
	if (!backend || !backend->ops)
		return DFU_E_INVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return DFU_E_NOMEM;
	/* moved in: the caller's copy must not free it a second time */
	ctx->backend = *backend;
	memset(backend, 0, sizeof(*backend));
	*out = ctx;
	return 0;
}

int dfu_ctx_new_usb(struct dfu_ctx **out, struct dfu_error *e)
{
	struct dfu_backend backend;
	int r;

	if (!out)
		return dfu_error_set(e, DFU_E_INVAL, "device.inval", NULL,
				     "dfu_ctx_new_usb: no output");
	*out = NULL;
	r = dfu_backend_libusb_new(&backend, e);
	if (r < 0)
		return r;
	r = dfu_ctx_new(&backend, out);
	if (r < 0) {
		backend.ops->free(backend.ctx);
		return dfu_error_set(e, r, "device.nomem", NULL, "out of memory");
	}
	return 0;
}

void dfu_ctx_free(struct dfu_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->devs);
	dfu_quirk_rules_free(ctx->quirk_rules);
	if (ctx->backend.ops && ctx->backend.ops->free)
		ctx->backend.ops->free(ctx->backend.ctx);
	free(ctx);
}

void dfu_ctx_set_poll(struct dfu_ctx *ctx, enum dfu_poll_mode mode, uint32_t interval_ms)
{
	if (!ctx)
		return;
	ctx->poll_mode = mode;
	ctx->poll_interval_ms = interval_ms;
}

void dfu_ctx_set_quirk_rules(struct dfu_ctx *ctx, struct dfu_quirk_rules *q)
{
	if (!ctx) {
		dfu_quirk_rules_free(q);
		return;
	}
	dfu_quirk_rules_free(ctx->quirk_rules);
	ctx->quirk_rules = q;
}

void dfu_ctx_set_log_fn(struct dfu_ctx *ctx, dfu_log_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_ud = userdata;
}

void dfu_ctx_set_progress_fn(struct dfu_ctx *ctx, dfu_progress_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->progress_fn = fn;
	ctx->progress_ud = userdata;
}

void dfu_log(struct dfu_ctx *ctx, enum dfu_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ctx || !ctx->log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_ud, level, msg);
}

void dfu_progress(struct dfu_ctx *ctx, const char *phase, uint64_t done, uint64_t total)
{
	if (ctx && ctx->progress_fn)
		ctx->progress_fn(ctx->progress_ud, phase, done, total);
}

uint64_t dfu_now_ms(struct dfu_ctx *ctx)
{
	struct timespec ts;

	if (ctx && ctx->backend.clock.now_ms)
		return ctx->backend.clock.now_ms(ctx->backend.clock.ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void dfu_sleep_ms(struct dfu_ctx *ctx, uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	if (ctx)
		ctx->slept_ms += ms;
	if (ctx && ctx->backend.clock.sleep_ms) {
		ctx->backend.clock.sleep_ms(ctx->backend.clock.ctx, ms);
		return;
	}
	while (nanosleep(&ts, &ts) != 0)
		;
}

uint64_t dfu_slept_ms(const struct dfu_ctx *ctx)
{
	return ctx ? ctx->slept_ms : 0;
}

static const char *const request_names[] = {
	"DFU_DETACH",	 "DFU_DNLOAD",	 "DFU_UPLOAD", "DFU_GETSTATUS",
	"DFU_CLRSTATUS", "DFU_GETSTATE", "DFU_ABORT",
};

const char *dfu_request_name(uint8_t req)
{
	return req < ARRAY_SIZE(request_names) ? request_names[req] : "DFU_?";
}

/* Microseconds for trace records: the real monotonic clock when the backend
 * uses it (clock.ctx NULL, libusb), else the backend's (virtual) clock. */
static uint64_t trace_now_us(struct dfu_ctx *ctx)
{
	struct timespec ts;

	if (ctx && ctx->backend.clock.now_ms && ctx->backend.clock.ctx)
		return ctx->backend.clock.now_ms(ctx->backend.clock.ctx) * 1000u;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *any_request_name(uint8_t rt, uint8_t req)
{
	if ((rt & 0x60) == 0x20)
		return dfu_request_name(req);
	if ((rt & 0x60) == 0x00) {
		switch (req) {
		case 0x00:
			return "GET_STATUS(std)";
		case USB_REQ_GET_DESCRIPTOR:
			return "GET_DESCRIPTOR";
		case 0x09:
			return "SET_CONFIGURATION";
		case 0x0b:
			return "SET_INTERFACE";
		default:
			break;
		}
	}
	return "REQUEST";
}

int dfu_control_traced(struct dfu_ctx *ctx, struct dfu_handle *h, const char *op,
		       uint8_t request_type, uint8_t request, uint16_t value, uint16_t index,
		       uint8_t *data, uint16_t length, unsigned timeout_ms, const char **usb_name)
{
	bool tracing = ctx && ctx->trace_fn;
	uint64_t t0 = tracing ? trace_now_us(ctx) : 0;
	const char *name = NULL;
	int r;

	r = h->ops->control(h, request_type, request, value, index, data, length, timeout_ms,
			    &name);
	if (usb_name)
		*usb_name = name;
	if (tracing) {
		bool in = request_type & 0x80;
		struct dfu_trace_rec rec = {
			.t_us = t0,
			.bm_request_type = request_type,
			.b_request = request,
			.w_value = value,
			.w_index = index,
			.w_length = length,
			.request = any_request_name(request_type, request),
			.op = op ? op : "",
			.data = data,
			.data_len = in ? (r > 0 ? (size_t)r : 0) : (data ? length : 0),
			.result = r,
			.usb_error = r < 0 ? (name ? name : dfu_strerror(r)) : NULL,
			.attempt = ctx->trace_attempt,
		};
		uint64_t t1 = trace_now_us(ctx);

		rec.duration_us = t1 > t0 ? t1 - t0 : 0;
		if ((request_type & 0x60) == 0x20 && request == DFU_REQ_GETSTATUS && r >= 6 &&
		    data) {
			rec.have_state = true;
			rec.status = data[0];
			rec.poll_timeout_ms =
			    (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;
			rec.state = data[4];
		}
		ctx->trace_fn(ctx->trace_ud, &rec);
	}
	return r;
}

void dfu_ctx_set_trace_fn(struct dfu_ctx *ctx, dfu_trace_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->trace_fn = fn;
	ctx->trace_ud = userdata;
}

void dfu_flash_result_note_retry(struct dfu_flash_result *res, const char *fmt, ...)
{
	va_list ap;

	if (!res)
		return;
	res->retries++;
	if (res->n_retry_log >= DFU_RETRY_LOG_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(res->retry_log[res->n_retry_log], sizeof(res->retry_log[0]), fmt, ap);
	va_end(ap);
	res->n_retry_log++;
}

int dfu_wait_bus_change(struct dfu_ctx *ctx, uint32_t timeout_ms, struct dfu_error *e)
{
	int r;

	if (!ctx)
		return dfu_error_set(e, DFU_E_INVAL, "dfu.inval", NULL,
				     "dfu_wait_bus_change: no context");
	if (!ctx->backend.ops->wait_change)
		return DFU_E_UNSUPPORTED;
	r = ctx->backend.ops->wait_change(ctx->backend.ctx, timeout_ms);
	if (r < 0 && r != DFU_E_UNSUPPORTED)
		return dfu_error_set(e, r, "usb.hotplug", NULL,
				     "waiting for USB devices to arrive or leave failed: %s",
				     dfu_strerror(r));
	return r;
}
