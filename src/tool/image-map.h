/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `image info --map`: an image drawn against a DfuSe memory layout (image-map.c). */
#pragma once

#include "tool.h"

/* Print the map of @img against @l on stdout; returns 1 when some of the
 * image lies outside @l (it is listed), else 0. */
int tool_image_map(const struct dfu_image *img, const struct dfuse_layout *l);
/* The layout to draw against: @str parsed, or with @str NULL the layout of
 * the alt of the one DFU device connected whose map holds @img's lowest
 * address.  Caller owns *out; 0 or an exit code after printing the error. */
int tool_image_map_layout(const char *str, const struct dfu_image *img, struct dfuse_layout **out);
