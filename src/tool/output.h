/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Output helpers are declared in tool.h; this header only keeps the
 * one-header-per-file convention. */
#pragma once
#include "tool.h"
